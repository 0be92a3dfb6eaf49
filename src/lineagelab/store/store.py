"""The lineage store: one DuckDB file holding raw events and the model derived from them.

Open it with ``Store.open``: that creates or migrates the file, stores what a stopped server left in its journal and
derives what was stored but not derived, and says so in ``store.recovered``. Events go in through ``ingest(source)``
(``sources.py``); the server, which acknowledges events before deriving them, uses ``append`` and ``catch_up``.

Concurrency: DuckDB lets one process open a file for writing, and then no other process may open it at all. Within that
process any number of threads read consistent snapshots (``Store.cursor()``) while a writer commits. So the process
that writes (``lineagelab ingest`` or ``lineagelab serve``) is the one that serves reads; another process that finds
the file locked waits up to ``wait`` seconds for it, then fails with a message naming the holder. When the server runs
it is the writer: events reach it over HTTP (``lineagelab ingest --server``) and queries go to its viewer API.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import duckdb

from lineagelab.ingest.prepare import Pending
from lineagelab.ingest.reader import read_events
from lineagelab.store import catchup, layout, reads, schema, spool, writer
from lineagelab.store.errors import StoreError, StrictStop
from lineagelab.store.journal import journal_files, read_journal
from lineagelab.store.rebuild import rebuild as rebuild_model
from lineagelab.store.sources import Events, Source
from lineagelab.store.sqlutil import transaction, without_vacuum
from lineagelab.store.writes import BATCH_SIZE, IngestReport, Writes

__all__ = ["BATCH_SIZE", "DEFAULT_PATH", "IngestReport", "Recovery", "Store", "StoreError", "StrictStop",
           "default_path"]

DEFAULT_PATH = Path(".lineagelab") / "lineage.duckdb"
#: Rows per row group of what this process writes (DuckDB's default: 122,880): a bulk ingest's commits then fill row
#: groups, which DuckDB compresses and writes as they fill instead of at the commit. The file stays DuckDB's own.
ROW_GROUP_SIZE = 6144


def default_path() -> Path:
    env = os.environ.get("LINEAGELAB_STORE")
    return Path(env) if env else DEFAULT_PATH


@dataclass(frozen=True)
class Recovery:
    """What ``Store.open`` did before handing the store over. Nothing but ``created`` happens to a store that its
    last writer closed in order."""

    created: bool = False  # the file was new or empty
    migrated_from: str | None = None  # the older layout ("raw.derived") the store was migrated from
    model_caught_up: int = 0  # events stored but not derived (a server or bulk ingest stopped early), derived now
    journal_events: int = 0  # events a stopped server acknowledged but had not stored, stored now
    journal_rejected: int = 0  # journaled events that no longer validate (the rules changed): set aside
    kept: tuple[str, ...] = ()  # where those were set aside
    spooled_events: int = 0  # events captured while the store could not be opened (``spool.py``), stored now
    spool_rejected: int = 0  # spooled events that do not validate: set aside (in ``kept``)

    def lines(self) -> list[str]:
        """One sentence for each thing recovered, for the user."""
        said = []
        if self.migrated_from is not None:
            said.append(f"migrated the store from layout {self.migrated_from} to "
                        f"{schema.RAW_VERSION}.{schema.DERIVED_VERSION}")
        if self.journal_events:
            said.append(f"recovered {self.journal_events:,} journaled events (acknowledged by a server that stopped "
                        "before storing them)")
        if self.model_caught_up:
            said.append(f"derived the model of {self.model_caught_up:,} events stored but not yet derived")
        if self.spooled_events:
            said.append(f"stored {self.spooled_events:,} spooled events (captured while the store could not be "
                        "opened)")
        if self.spool_rejected:
            said.append(f"{self.spool_rejected:,} spooled events do not validate; kept in {', '.join(self.kept)}")
        if self.journal_rejected:
            said.append(f"{self.journal_rejected:,} journaled events no longer validate; kept in "
                        f"{', '.join(self.kept)}")
        return said


class Store:
    """A lineage store file, opened with ``Store.open``. Use as a context manager; ``read_only`` stores never
    write."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection, *, read_only: bool,
                 recovered: Recovery | None = None) -> None:
        """The store on ``con``, a connection ``Store.open`` made and checked."""
        self.path = path
        self.con = con
        self.read_only = read_only
        self.recovered = recovered or Recovery()
        self._lock = threading.RLock()  # serialises writes on ``con``
        self._derive_lock = threading.Lock()  # the deriver's connection (``catch_up``), beside appends
        self._readers = threading.local()
        self._writes = Writes(con)
        self._bulk_ingested = False

    # -- opening ------------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
             wait: float = 10.0) -> Store:
        """Open the store at ``path`` (default: ``$LINEAGELAB_STORE`` or ``.lineagelab/lineage.duckdb``), waiting
        up to ``wait`` seconds for another process holding it. Opening for writing creates or migrates the file,
        derives what was stored but not derived and stores what a stopped server journaled (``store.recovered``);
        a read-only open has a writable one do that first when needed and the file is free."""
        where = Path(path) if path is not None else default_path()
        if read_only:
            return cls._open_read_only(where, wait)
        where.parent.mkdir(parents=True, exist_ok=True)
        store = cls(where, _connect(where, False, wait), read_only=False)
        try:
            store.recovered = store._recover()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _open_read_only(cls, path: Path, wait: float) -> Store:
        if not path.exists():
            raise StoreError(f"no lineage store at {path}: ingest events first (lineagelab ingest …)")
        con = _connect(path, True, wait)
        try:
            found = layout.layout_of(con, path)
        except BaseException:
            con.close()
            raise
        if found is None:
            con.close()
            raise StoreError(f"{path} is empty: ingest events first")
        recovered = Recovery()
        if layout.outdated(found):  # opening for writing migrates
            con.close()
            with cls.open(path, wait=1.0) as writable:
                recovered = writable.recovered
            con = _connect(path, True, wait)
        # a stopped server's journal, spooled events: stored through a writable open, if nobody holds it
        if journal_files(path) or spool.files(path):
            con.close()
            with suppress(StoreError), cls.open(path, wait=1.0) as writable:  # in use: its writer moves the journal
                recovered = writable.recovered
            con = _connect(path, True, wait)
        return cls(path, con, read_only=True, recovered=recovered)

    def _recover(self) -> Recovery:
        found = layout.layout_of(self.con, self.path)
        migrated_from = None
        if found is None:
            layout.create(self.con)
        elif layout.outdated(found):
            layout.migrate(self._writes, found)
            migrated_from = f"{found[0]}.{found[1]}"
        caught_up = self.catch_up()  # a server or a bulk ingest stopped before the model caught up
        stored, rejected, kept = self._replay_journals()
        spooled, spool_rejected = self._store_spooled(kept)
        return Recovery(found is None, migrated_from, caught_up, stored, rejected, tuple(kept), spooled,
                        spool_rejected)

    def _store_spooled(self, kept: list[str]) -> tuple[int, int]:
        """Store what was captured while the store could not be opened (``spool.py``); a file is removed once its
        events are stored, or set aside as ``.rejected`` with the events that do not validate."""
        stored = rejected = 0
        for path in spool.files(self.path):
            report = self.ingest(Events(read_events([path])))
            stored += report.accepted + report.duplicates
            if report.rejected:
                keep = path.with_name(path.name + ".rejected")
                path.rename(keep)
                rejected += len(report.rejected)
                kept.append(str(keep))
            else:
                path.unlink()
        return stored, rejected

    def _replay_journals(self) -> tuple[int, int, list[str]]:
        """Store what a server acknowledged but had not moved into DuckDB when it stopped (see journal.py)."""
        stored = rejected = 0
        kept: list[str] = []
        for path in journal_files(self.path):
            report = self.ingest(Events(read_journal(path)))
            stored += report.accepted
            if report.rejected:  # validated when they arrived: only a change of the rules can do this
                keep = path.with_name(path.name + ".rejected")
                path.rename(keep)
                rejected += len(report.rejected)
                kept.append(str(keep))
                print(f"lineagelab: {len(report.rejected)} journaled events no longer validate; kept in {keep}: "
                      f"{report.rejected[0]}", file=sys.stderr)
            else:
                path.unlink()
        return stored, rejected, kept

    # -- connections --------------------------------------------------------------------------------------------
    def close(self) -> None:
        self._writes.close()
        if self._bulk_ingested:
            # The checkpoint of closing would vacuum the row groups the bulk ingest's model refresh left with
            # deleted rows: the next checkpoint with vacuum on does that, outside the ingest's time.
            self.con.execute("SET max_vacuum_tasks = 0")
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction, serialised with ingest (for the server's own records)."""
        with self._lock, transaction(self.con):
            yield self.con

    def reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's own reading connection, kept for reuse (server worker threads ask for one per request)."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._readers, "cur", None)
        if cur is None:
            cur = self.con.cursor()
            self._readers.cur = cur
        return cur

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A connection for another thread: it reads the last committed state, whatever the writer does."""
        return self.con.cursor()

    # -- ingest -------------------------------------------------------------------------------------------------
    def ingest(self, source: Source, *, strict: bool = False,
               progress: Callable[[int], None] | None = None) -> IngestReport:
        """Validate and store the events of ``source`` (``sources.py``: ``Files``, ``Prepared``, ``Events``,
        ``Documents``), deriving the model as they commit. Each batch is one transaction (a bulk source's are
        merged into large ones); with ``strict`` the whole ingest is one and the first invalid event rolls it back
        (``StrictStop``). ``progress`` is told how many events each commit stored."""
        if self.read_only:
            raise StoreError("store opened read-only")
        with self._lock, self._derive_lock:
            while self._writes.derive_pending(BATCH_SIZE):
                pass  # what a server stored but had not derived: each batch below marks the model derived up to it
            self._bulk_ingested |= source.bulk
            return writer.write(self._writes, source.read(), strict=strict, progress=progress, bulk=source.bulk)

    # -- the server's appends -----------------------------------------------------------------------------------
    def append(self, items: list[Pending],
               also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> set[str]:
        """Durably store validated events without deriving the model yet (``catch_up`` does, in batches); return
        the ids that were new. The server acknowledges an event once this commits: a crash before the model caught
        up is repaired when the store is next opened. ``also`` writes the caller's own records in the same
        transaction."""
        with self._lock:
            return self._writes.append(items, also)

    def catch_up(self, limit: int = BATCH_SIZE) -> int:
        """Derive the model for everything appended but not yet derived, ``limit`` events a transaction, on a
        connection of its own (safe beside ``append`` on another thread); return how many."""
        done = self._derive_pending(limit)
        if done < limit:  # fewer than a batch of raw events were left
            return done
        with without_vacuum(self.reader()):  # this thread's own connection: the setting is the database's
            while more := self._derive_pending(limit):
                done += more
        return done

    def _derive_pending(self, limit: int) -> int:
        with self._derive_lock:
            return self._writes.derive_pending(limit)

    def stored_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored. New ids (nearly all) are told apart without the lock, so the server's
        acknowledgements do not wait while its mover holds the lock for a large append."""
        if self._writes.surely_new(ids):
            return set()
        with self._lock:
            return self._writes.stored(ids)

    def last_seq(self) -> int:
        """The newest event's sequence number."""
        with self._lock:
            return self._writes.last_seq()

    def derived_seq(self) -> int:
        """The sequence number up to which the model reflects the raw events."""
        with self._derive_lock:
            return catchup.derived_seq(self._writes.deriver())

    # -- the model and the raw events ---------------------------------------------------------------------------
    def rebuild(self, progress: Callable[[int], None] | None = None) -> None:
        """Drop the derived model and derive it again from the raw events."""
        if self.read_only:
            raise StoreError("store opened read-only")
        with self._lock, self._derive_lock:
            # what a server appended but had not derived: its warnings are recorded as catching up records them
            while self._writes.derive_pending(BATCH_SIZE):
                pass
            with transaction(self.con):
                rebuild_model(self._writes, progress)
                layout.set_meta(self.con)

    def stats(self) -> dict[str, Any]:
        """Counts, size on disk and time range (``reads.stats``)."""
        return reads.stats(self.reader(), self.path)  # this thread's own connection: the server writes on con

    def iter_events(self, *, since: datetime | None = None, until: datetime | None = None, job: str | None = None,
                    run: str | None = None) -> Iterator[tuple[str, str, str]]:
        """(event_id, kind, raw) of the stored events in eventTime order, filtered."""
        yield from reads.iter_events(self.cursor(), since=since, until=until, job=job, run=run)

    def iter_raw(self, **filters: Any) -> Iterator[str]:
        return (raw for _, _, raw in self.iter_events(**filters))

    def export_events(self, out: IO[bytes], **filters: Any) -> int:
        """Write the stored events as NDJSON (``reads.export_events``); return how many."""
        return reads.export_events(self.iter_raw(**filters), out)


def _attach(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """The store file as the connection's only database. The row group size is an option of ATTACH, not of
    ``duckdb.connect``; once the in-memory default database is detached, every cursor opens on the store. What DuckDB
    spills goes beside the store, as it would for a file opened directly (an in-memory instance spills to ./.tmp)."""
    con = duckdb.connect(config={"temp_directory": f"{path}.tmp"})
    try:
        where = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {where} AS lineage ({'READ_ONLY' if read_only else f'ROW_GROUP_SIZE {ROW_GROUP_SIZE}'})")
        con.execute("USE lineage")
        con.execute("DETACH memory")
    except BaseException:
        con.close()
        raise
    return con


def _connect(path: Path, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
    """``_attach``, waiting up to ``wait`` seconds while another process holds the file."""
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return _attach(path, read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise StoreError(f"cannot open lineage store {path}: {text.splitlines()[0]}") from None
            if time.monotonic() >= deadline:
                holder = text.split("(PID", 1)[1].split(")", 1)[0].strip() if "(PID" in text else "?"
                raise StoreError(
                    f"lineage store {path} is in use by another process (pid {holder}); "
                    f"waited {wait:g}s. If it is `lineagelab serve`, send events with `lineagelab ingest "
                    f"--server URL` and query its API, or stop it."
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        except duckdb.Error as exc:
            raise StoreError(f"{path} is not a lineage store: {str(exc).splitlines()[0]}") from None
