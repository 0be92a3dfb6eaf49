"""Read OpenLineage events from files, directories and streams.

Accepted: NDJSON (one event a line, as openlineage-python's file transport writes with ``append: true``), a JSON array
of events, a single JSON document (the file transport's one-event-per-file mode, or a pretty-printed event), and gzip of
any of those. Every event comes out with where it came from, so that a rejection can name file and line or index.
"""

from __future__ import annotations

import gzip
import json
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

#: Events larger than this are refused before parsing. Spark producers with column lineage reach a few hundred KB;
#: DataZone itself accepts at most 300,000 bytes. 8 MiB leaves room for anything real while keeping a bad input
#: (a 50 MB blob) from being buffered into the store.
MAX_EVENT_BYTES = 8 * 1024 * 1024

EVENT_FILE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log")


@dataclass(slots=True)
class RawEvent:
    """One event as read: its verbatim bytes and parsed document, or the reason it cannot be read."""

    source: str
    location: str  # "line 3", "index 2", "document"
    text: bytes
    doc: Any = None
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.location}" if self.location else self.source


def _utf8_problem(data: bytes) -> str | None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start}: {data[exc.start : exc.start + 1]!r})"
    return None


def _parse_error(data: bytes, exc: Exception) -> str:
    bad = _utf8_problem(data)
    if bad:
        return bad
    try:
        json.loads(data)
    except json.JSONDecodeError as err:
        return f"malformed JSON: {err.msg} at line {err.lineno} column {err.colno}"
    except RecursionError:
        return "malformed JSON: nested too deeply"
    return f"malformed JSON: {exc}"


def _too_big(size: int) -> str:
    return (f"event of {size:,} bytes exceeds the {MAX_EVENT_BYTES:,}-byte limit "
            "(lineagelab.events.reader.MAX_EVENT_BYTES)")


def parse_bytes(data: bytes, source: str) -> Iterator[RawEvent]:
    """Split one input's bytes into events."""
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            yield RawEvent(source, "", b"", error=f"corrupt gzip data: {exc}")
            return
    stripped = data.strip()
    if not stripped:
        yield RawEvent(source, "", b"", error="empty input: no events")
        return
    if stripped[:1] == b"[":
        yield from _parse_array(stripped, source)
        return
    first_line, _, rest = stripped.partition(b"\n")
    if rest.strip():
        try:
            orjson.loads(first_line)
            yield from _parse_lines(data, source)
            return
        except orjson.JSONDecodeError:
            pass  # not NDJSON: a multi-line document
    yield _one(stripped, source, "document")


def _one(text: bytes, source: str, location: str) -> RawEvent:
    if len(text) > MAX_EVENT_BYTES:
        return RawEvent(source, location, b"", error=_too_big(len(text)))
    try:
        return RawEvent(source, location, text, orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        return RawEvent(source, location, b"", error=_parse_error(text, exc))


def _parse_lines(data: bytes, source: str) -> Iterator[RawEvent]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        line = line.strip()
        if line:
            yield _one(line, source, f"line {number}")


def _parse_array(data: bytes, source: str) -> Iterator[RawEvent]:
    try:
        items = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        yield RawEvent(source, "", b"", error=_parse_error(data, exc))
        return
    for index, item in enumerate(items):
        # Elements of an array have no text of their own: their compact serialisation is what is kept.
        text = orjson.dumps(item)
        if len(text) > MAX_EVENT_BYTES:
            yield RawEvent(source, f"index {index}", b"", error=_too_big(len(text)))
        else:
            yield RawEvent(source, f"index {index}", text, item)


def iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Expand directories recursively (sorted, hidden entries skipped) into event files."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    base = name[:-3] if name.endswith(".gz") else name
                    if not name.startswith(".") and base.endswith(EVENT_FILE_SUFFIXES):
                        yield Path(root) / name
        else:
            yield path


def read_events(paths: Iterable[str | os.PathLike[str]]) -> Iterator[RawEvent]:
    """Read every event from the given files, directories or ``-`` (standard input)."""
    for path in iter_files(paths):
        if str(path) == "-":
            yield from parse_bytes(sys.stdin.buffer.read(), "<stdin>")
            continue
        try:
            data = path.read_bytes()
        except OSError as exc:
            yield RawEvent(str(path), "", b"", error=f"cannot read: {exc.strerror or exc}")
            continue
        yield from parse_bytes(data, str(path))

