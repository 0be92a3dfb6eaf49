"""Read OpenLineage events from files, directories and streams.

Accepted: NDJSON (one event a line, as openlineage-python's file transport writes with ``append: true``), a JSON array
of events, a single JSON document (the file transport's one-event-per-file mode, or a pretty-printed event), and gzip of
any of those. Every event comes out with where it came from, so that a rejection can name file and line or index.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

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
    line: int | None = None  # the NDJSON line number of the location, if it is one

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
            "(lineagelab.ingest.reader.MAX_EVENT_BYTES)")


def _gunzip(data: bytes) -> tuple[bytes, str | None]:
    if data[:2] != b"\x1f\x8b":
        return data, None
    try:
        return gzip.decompress(data), None
    except (OSError, EOFError) as exc:
        return b"", f"corrupt gzip data: {exc}"


_NON_BLANK = re.compile(rb"\S")


def _is_ndjson(data: bytes) -> bool:
    """More than one non-blank line and the first is a JSON document (else: an array or one multi-line document).
    Looks only at the first line: the data may be hundreds of MB."""
    first = _NON_BLANK.search(data)
    if first is None or data[first.start():first.start() + 1] == b"[":
        return False
    end = data.find(b"\n", first.start())
    if end < 0 or _NON_BLANK.search(data, end) is None:
        return False
    try:
        orjson.loads(data[first.start():end])
    except orjson.JSONDecodeError:
        return False
    return True


def parse_bytes(data: bytes, source: str) -> Iterator[RawEvent]:
    """Split one input's bytes into events."""
    data, error = _gunzip(data)
    if error is not None:
        yield RawEvent(source, "", b"", error=error)
        return
    stripped = data.strip()
    if not stripped:
        yield RawEvent(source, "", b"", error="empty input: no events")
        return
    if stripped[:1] == b"[":
        yield from _parse_array(stripped, source)
    elif _is_ndjson(stripped):
        yield from _parse_lines(data, source)
    else:
        yield _one(stripped, source, "document")


def _one(text: bytes, source: str, location: str) -> RawEvent:
    if len(text) > MAX_EVENT_BYTES:
        return RawEvent(source, location, b"", error=_too_big(len(text)))
    try:
        return RawEvent(source, location, text, orjson.loads(text))
    except orjson.JSONDecodeError as exc:
        return RawEvent(source, location, b"", error=_parse_error(text, exc))


def _parse_lines(data: bytes, source: str, first: int = 1) -> Iterator[RawEvent]:
    for number, line in numbered_lines(data, first):
        yield read_line(line, source, number)


def numbered_lines(data: bytes, first: int = 1) -> Iterator[tuple[int, bytes]]:
    """The lines of NDJSON data that are not blank, stripped, with their numbers."""
    for number, line in enumerate(data.split(b"\n"), start=first):
        line = line.strip()
        if line:
            yield number, line


def read_line(line: bytes, source: str, number: int) -> RawEvent:
    """One NDJSON line (stripped, not blank), as ``read_events`` reads it."""
    event = _one(line, source, f"line {number}")
    event.line = number
    return event


def line_where(source: str, number: int) -> str:
    """How an event read from line ``number`` of ``source`` is named (``RawEvent.where``)."""
    return RawEvent(source, f"line {number}", b"").where


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
    for block in read_blocks(paths, split_bytes=None):
        yield from block.events()


@dataclass(frozen=True, slots=True)
class Block:
    """A piece of input that parses on its own: a whole file, or a run of complete NDJSON lines (numbered from
    ``first_line``). Blocks are what parallel ingest hands to worker processes (plain bytes pickle cheaply)."""

    source: str
    data: bytes
    first_line: int | None = None
    error: str | None = None
    #: (start, end): the block is the NDJSON lines at these offsets of the file ``source``, not read yet: whoever
    #: prepares it reads them (``loaded``), so that a worker process gets a few bytes of task instead of the
    #: ingesting process reading, copying and sending it the block. Its lines are numbered from 1: only the caller,
    #: who sees the blocks in order, can count the lines before it.
    span: tuple[int, int] | None = None

    @property
    def size(self) -> int:
        return len(self.data) if self.span is None else self.span[1] - self.span[0]

    def loaded(self) -> Block:
        """The block with its bytes in hand (a span read from its file, its lines numbered from 1)."""
        if self.span is None:
            return self
        start, end = self.span
        try:
            with open(self.source, "rb") as f:
                f.seek(start)
                data = f.read(end - start)
        except OSError as exc:
            return Block(self.source, b"", error=f"cannot read: {exc.strerror or exc}")
        if len(data) != end - start:
            return Block(self.source, b"", error="cannot read: the file was shortened while it was being ingested")
        return Block(self.source, data, first_line=1)

    def events(self) -> Iterator[RawEvent]:
        if self.span is not None:
            yield from self.loaded().events()
        elif self.error is not None:
            yield RawEvent(self.source, "", b"", error=self.error)
        elif self.first_line is not None:
            yield from _parse_lines(self.data, self.source, self.first_line)
        else:
            yield from parse_bytes(self.data, self.source)


def ndjson_lines(block: Block) -> tuple[bytes, int] | None:
    """(data, number of its first line) when ``block.events()`` would read NDJSON lines from ``data``, else None."""
    if block.error is not None:
        return None
    if block.first_line is not None:
        return block.data, block.first_line
    data, error = _gunzip(block.data)
    stripped = data.strip()
    if error is not None or not stripped or stripped[:1] == b"[" or not _is_ndjson(stripped):
        return None
    return data, 1


def read_blocks(paths: Iterable[str | os.PathLike[str]], split_bytes: int | None, *,
                spans: bool = False) -> Iterator[Block]:
    """The inputs as blocks; NDJSON inputs larger than ``split_bytes`` are cut at line ends into blocks of about
    that size (line numbers kept), read one block at a time: a file of many GB never sits in memory whole. With
    ``spans``, the blocks of an NDJSON file after its first are not read here at all (``Block.span``)."""
    for path in iter_files(paths):
        source = "<stdin>" if str(path) == "-" else str(path)
        try:
            if str(path) == "-":
                yield from _blocks(sys.stdin.buffer, source, split_bytes, spans=False)
            else:
                with path.open("rb") as f:
                    yield from _blocks(f, source, split_bytes, spans)
        except OSError as exc:
            yield Block(source, b"", error=f"cannot read: {exc.strerror or exc}")


def _blocks(f: IO[bytes], source: str, split_bytes: int | None, spans: bool) -> Iterator[Block]:
    head = f.read() if split_bytes is None else f.read(split_bytes)
    if split_bytes is None or len(head) < split_bytes:
        yield Block(source, head)
        return
    if head[:2] == b"\x1f\x8b" or not _is_ndjson(head):  # gzip, an array, one large document: whole
        data, error = _gunzip(head + f.read())
        if error is not None or not _is_ndjson(data):
            yield Block(source, data, error=error)
            return
        f = io.BytesIO(data)
        head = f.read(split_bytes)
    elif spans and stat.S_ISREG(os.fstat(f.fileno()).st_mode):  # a regular file: a pipe cannot be read at offsets
        head += f.readline()
        yield Block(source, head, first_line=1)
        start, size = len(head), os.fstat(f.fileno()).st_size
        while start < size:
            f.seek(start + split_bytes)
            f.readline()  # to the end of the line the block cuts
            end = min(f.tell(), size)
            yield Block(source, b"", span=(start, end))
            start = end
        return
    line = 1
    while head:
        head += f.readline()  # to the end of the line the block cut
        yield Block(source, head, first_line=line)
        line += head.count(b"\n")
        head = f.read(split_bytes)
