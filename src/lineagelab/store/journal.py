"""The server's write-ahead journal: events acknowledged but not yet moved into DuckDB.

A DuckDB transaction costs milliseconds of CPU however few rows it holds, so committing each HTTP request's event on
its own caps a server far below what its clients send. Instead an accepted event is appended to a journal file beside
the store and fsync'd (once for a whole group of requests) before it is acknowledged; the server moves the journal
into ``raw_events`` in large transactions and then deletes the file. The journal is part of the store: opening the
store for writing first ingests any journal a stopped or killed server left (duplicates are dropped as in any
ingest), so an acknowledged event is never lost.

File format: frames of ``LLJ1 <event_id> <byte length>\\n<event bytes>\\n``. A torn last frame (a crash in the middle
of a write, never acknowledged) is ignored.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from lineagelab.ingest.reader import RawEvent, parse_bytes

if TYPE_CHECKING:
    from lineagelab.ingest.prepare import Pending

_MAGIC = b"LLJ1 "


def journal_files(store_path: Path) -> list[Path]:
    """The journals a server left beside ``store_path``, oldest first."""
    found = [p for p in store_path.parent.glob(store_path.name + ".journal.*") if p.suffix[1:].isdigit()]
    return sorted(found, key=_number)


def _number(path: Path) -> int:
    return int(path.suffix[1:])


def read_journal(path: Path) -> Iterator[RawEvent]:
    """The events of one journal file, in the order they were acknowledged."""
    data = path.read_bytes()
    pos = 0
    while pos < len(data):
        end = data.find(b"\n", pos)
        if end < 0 or not data.startswith(_MAGIC, pos):
            return  # torn header
        try:
            _, size = data[pos + len(_MAGIC):end].split(b" ")
            length = int(size)
        except ValueError:
            return
        start, stop = end + 1, end + 1 + length
        if stop >= len(data) or data[stop:stop + 1] != b"\n":
            return  # torn body
        yield from parse_bytes(data[start:stop], str(path))
        pos = stop + 1


@dataclass
class Segment:
    """One journal file and the events written to it (kept parsed, so moving them costs no second parse)."""

    path: Path
    items: list[Pending] = field(default_factory=list)


class Journal:
    """Append-only and rotated: the commit thread appends; the mover rotates, stores a segment, then drops it."""

    def __init__(self, store_path: Path):
        self.store_path = store_path
        self._lock = threading.Lock()
        existing = journal_files(store_path)
        self._next = _number(existing[-1]) + 1 if existing else 1
        self._segment: Segment | None = None
        self._fd = -1
        self.generation = 0  # groups appended so far

    def _open(self) -> Segment:
        path = self.store_path.parent / f"{self.store_path.name}.journal.{self._next}"
        self._next += 1
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._segment = Segment(path)
        return self._segment

    def append(self, items: list[Pending]) -> int:
        """Write and fsync one group; return its generation number."""
        frames = b"".join(_MAGIC + p.event_id.encode() + b" " + str(len(p.text)).encode() + b"\n" + p.text + b"\n"
                          for p in items)
        with self._lock:
            segment = self._segment or self._open()
            view = memoryview(frames)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fdatasync(self._fd)
            segment.items.extend(items)
            self.generation += 1
            return self.generation

    def rotate(self) -> tuple[Segment | None, int]:
        """Close the current segment (None if nothing was written) and the generation it covers."""
        with self._lock:
            segment, generation = self._segment, self.generation
            if segment is not None:
                os.close(self._fd)
                self._fd, self._segment = -1, None
            return segment, generation

    @staticmethod
    def drop(segment: Segment) -> None:
        segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
