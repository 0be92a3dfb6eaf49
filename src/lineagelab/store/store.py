"""The lineage store: one DuckDB file holding raw events and the model derived from them.

Concurrency: DuckDB lets one process open a file for writing, and then no other process may open it at all. Within that
process any number of threads read consistent snapshots (``Store.cursor()``) while a writer commits. So the process
that writes (``lineagelab ingest`` or ``lineagelab serve``) is the one that serves reads; another process that finds
the file locked waits up to ``wait`` seconds for it, then fails with a message naming the holder. When the server runs
it is the writer: events reach it over HTTP (``lineagelab ingest --server``) and queries go to its viewer API.
"""

from __future__ import annotations

import gc
import itertools
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa

from lineagelab import __version__
from lineagelab.ingest import column_lineage
from lineagelab.ingest.parallel import Pool, default_workers, prepared_batches
from lineagelab.ingest.prepare import (
    RAW_FIELDS,
    Batch,
    FactTables,
    Pending,
    Rejection,
    facts_of,
    facts_of_rows,
    prepare,
    raw_fields,
    raw_table,
)
from lineagelab.ingest.reader import RawEvent
from lineagelab.store import model, schema
from lineagelab.store.journal import journal_files, read_journal
from lineagelab.store.sqlutil import row, scalar

DEFAULT_PATH = Path(".lineagelab") / "lineage.duckdb"
BATCH_SIZE = 5000
_SMALL_BATCH = 64  # up to here one VALUES statement beats an Arrow batch (64 rows: 4.4 vs 7.1 ms; 128: 16 vs 6 ms)
_QUEUED, _MERGE_UP_TO = 32, 40_000  # prepared batches waiting for the writer, and at most merged into one commit
#: A bulk ingest commits at least this many events at a time (but its last): per event, DuckDB's commit (copying
#: the transaction's rows into the tables, the WAL, an fsync) and the fact inserts cost about half as much for 10,000
#: as for the ~800 of one input block (measured on bench/store_bench.py's 20,000 events: writer 0.93-0.97 s against
#: 1.83-1.96 s)
_MERGE_AT_LEAST = 10_000
_MODEL_EVERY = 100_000  # a bulk ingest refreshes the model once per this many events, and at its end
_PARALLEL_REBUILD = 20_000  # stores at least this large are rebuilt with worker processes
_PARSED_MAX = 50_000  # parsed documents kept for the deriver (a backlog beyond this is parsed again from raw)
#: Rows per row group of what this process writes (DuckDB's default: 122,880). A transaction that fills a row group
#: has DuckDB compress and write it to the file at once ("optimistic write"), instead of holding its rows uncompressed
#: until the commit copies and compresses them: a bulk ingest's 10,000-event transactions now fill row groups. Measured
#: on bench/store_bench.py's 20,000 events, alternating: raw events 16 -> 8 us an event in DuckDB, the CLI's ingest
#: 10,100-11,100 -> 12,300-13,100 events/s (seed-shaped 13,600-14,700 -> 16,200-17,500), queries unchanged; the
#: price is compression per smaller row group: the store 18% larger (100,000 events and more: ~30%). Small commits
#: (the server's) are unaffected. Only what is written is concerned: the file stays DuckDB's own.
ROW_GROUP_SIZE = 6144


class StoreError(Exception):
    """A problem with the store file itself, phrased for the user."""


def _open_duckdb(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
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


def default_path() -> Path:
    env = os.environ.get("LINEAGELAB_STORE")
    return Path(env) if env else DEFAULT_PATH


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


class _RawRolledBack(Exception):
    """The raw events of a split flush were not stored: their facts roll back too."""


class StrictStop(StoreError):
    """``strict`` ingest met an invalid event: nothing of that ingest was stored."""


def _in_list(values: list[str]) -> str:
    """A literal SQL list (DuckDB turns ``key IN (literals)`` on an indexed key into index lookups)."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")" if values else "(NULL)"


@contextmanager
def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on ``con``: committed when the block ends, rolled back if it (or the commit) raises."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """A batch holds thousands of parsed documents; the cyclic GC would rescan them all every few hundred
    allocations (measured: JSON parsing 6x slower, a rebuild's Arrow tables 2.5x). Nothing here makes cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _without_vacuum(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """No vacuum at the checkpoints of the block's commits (a setting of the whole database, restored after).
    Commits of thousands of rows each leave row groups of that size, and DuckDB's vacuum merged them again every few
    checkpoints, rewriting ever more of the table (measured: the raw table's 10,000-event commits over 176,000
    events took 4.0 s with spikes growing to 1 s, 1.6 s without). Vacuum resumes at the next checkpoint after."""
    vacuum = scalar(con, "SELECT current_setting('max_vacuum_tasks')")
    con.execute("SET max_vacuum_tasks = 0")
    try:
        yield
    finally:
        con.execute(f"SET max_vacuum_tasks = {int(vacuum)}")


def _batches(events: Iterator[RawEvent], size: int) -> Iterator[Batch]:
    """Prepared batches of ``size`` events, read lazily: an event is parsed only when its batch gets to it."""
    schemas_sent: set[str] = set()
    while (batch := prepare(itertools.islice(events, size), schemas_sent)).read:
        yield batch


def _on_side(side: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], None],
             meanwhile: Callable[[], None]) -> None:
    """``work(side)`` committed in a transaction of its own on another thread while this one runs ``meanwhile``
    (DuckDB releases the GIL: the two use two cores). Returns once both are done, ``work`` committed, so that the
    caller's transaction can then record that both happened; if either fails, the error is raised here. A failure
    after ``work`` committed leaves its tables ahead of the caller's record: the caller's work must be the kind
    that is redone whole (a first derivation: ``refresh_all``). Measured on 20,000 synthetic events, alternating on
    the same facts: the model's first derivation and its commit 0.20-0.31 -> 0.13-0.23 s."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with _transaction(side):
                work(side)
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)

    thread = threading.Thread(target=run, name="lineagelab-side", daemon=True)
    thread.start()
    try:
        meanwhile()
    finally:
        thread.join()
    if failed:
        raise failed[0]


class _Writer:
    """Commits batches on a thread of its own, one at a time, in order; errors surface on the caller's thread."""

    def __init__(self, store: Store, report: IngestReport, strict: bool, progress: Callable[[int], None] | None,
                 queued: int = 1, merge_up_to: int = 0, merge_at_least: int = 0, model_every: int = 0):
        self.store, self.report, self.strict, self.progress = store, report, strict, progress
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queued)
        self.merge_up_to = merge_up_to
        self.merge_at_least = merge_at_least  # waits for this many events before committing (bulk ingest)
        self.model_every = model_every  # 0: refresh the model with each batch; else once per this many events
        self.error: BaseException | None = None
        self.aborted = False  # a strict ingest met a bad event: everything rolls back
        self.stopping = False  # the caller failed (Ctrl-C, a worker died): queued batches are dropped
        self.thread = threading.Thread(target=self._run, name="lineagelab-writer", daemon=True)
        self.finished = threading.Event()  # waited on instead of join(): see __exit__

    def __enter__(self) -> _Writer:
        if self.strict:
            self.store.con.execute("BEGIN")
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._write()
        finally:
            self.finished.set()

    def _write(self) -> None:
        done = False
        behind = 0
        while not done:
            batch = self.queue.get()
            if batch is None:
                break
            # at least merge_at_least events, and what queued up while the last commit ran, go into one
            # transaction: much of a commit's cost is per commit, not per event (see _MERGE_AT_LEAST). Once the
            # input is all handed out, waiting for more would only leave it all to a last commit that nothing
            # overlaps: what is queued goes now, and the last commit holds what arrives meanwhile
            batches = [batch]
            size = len(batch.ids)
            wait = not batch.input_done
            while size < self.merge_up_to:
                try:
                    more = self.queue.get() if wait and size < self.merge_at_least else self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    break
                batches.append(more)
                size += len(more.ids)
                wait = wait and not more.input_done
            if self.error is not None or self.aborted or self.stopping:
                continue  # drain
            batch = Batch.merge(batches)
            try:
                stored = self.report.accepted + self.report.duplicates
                self.store._flush(batch, self.report, own_transaction=not self.strict,
                                  model_too=not self.model_every)
                if self.model_every:
                    behind += len(batch.ids)
                    if behind >= self.model_every:
                        self._catch_up()
                        behind = 0
                if self.progress:  # events now in the store (new or found there), not the rejected ones
                    self.progress(self.report.accepted + self.report.duplicates - stored)
            except BaseException as exc:
                self.error = exc
        if self.model_every and self.error is None and not self.aborted:
            try:
                self._catch_up()
            except BaseException as exc:
                self.error = exc

    def _catch_up(self) -> None:
        con = self.store.con
        if self.strict:  # inside the ingest's one transaction
            self.store._catch_up_model(con)
            return
        with _transaction(con):
            self.store._catch_up_model(con, side=self.store._facts_con)

    def put(self, batch: Batch) -> None:
        if self.error is not None:
            raise self.error
        if self.strict and batch.rejected:
            self.abort()
            self.report.rejected.extend(batch.rejected[:1])
            raise StrictStop(str(batch.rejected[0]))
        self.queue.put(batch)

    def abort(self) -> None:
        self.aborted = True

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self.stopping = exc is not None
        # Ctrl-C while the last batches commit must not leave this before the writer does: DuckDB refuses a second
        # call on its connection, and exiting with the commit under way aborted the process (SIGABRT). The batches
        # not yet begun are dropped; the interrupt is raised once the writer is done. (Not Thread.join: on Python
        # 3.11 a join interrupted by Ctrl-C marks the thread stopped while it still runs, so a second join returns.)
        def end() -> None:
            self.queue.put(None)

        interrupted: KeyboardInterrupt | None = None
        for step in (end, self.finished.wait):
            while True:
                try:
                    step()
                    break
                except KeyboardInterrupt as ki:
                    self.stopping = True
                    interrupted = ki
        self.thread.join()  # it has finished writing; only the thread's own exit is left
        exc = exc or interrupted
        failed = exc is not None or self.error is not None or self.aborted
        if self.strict:
            self.store.con.execute("ROLLBACK" if failed else "COMMIT")
            if failed:
                self.store._forget()  # the rolled-back batches' sequence numbers and ids are free again
                self.report.accepted, self.report.accepted_ids = 0, []
        if interrupted is not None:
            raise interrupted
        if self.error is not None and exc is None:
            raise self.error


class Store:
    """A lineage store file. Use as a context manager; ``read_only`` stores never write."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *, read_only: bool = False, wait: float = 10.0):
        self.path = Path(path) if path is not None else default_path()
        self.read_only = read_only
        self._lock = threading.RLock()
        self._readers = threading.local()
        self._seq: int | None = None
        self._known: set[int] | None = None  # see _stored
        # The model is derived on a connection of its own, so that deriving (the slow part) never holds up appends:
        # DuckDB runs the two transactions side by side (they write different tables).
        self._derive_lock = threading.Lock()
        self._derive_con: duckdb.DuckDBPyConnection | None = None
        self._facts_con: duckdb.DuckDBPyConnection | None = None  # a bulk ingest's second writer (_flush_split)
        self._parsed: dict[str, Pending] = {}  # appended events whose parsed documents derive_pending may reuse
        if read_only and not self.path.exists():
            raise StoreError(f"no lineage store at {self.path}: ingest events first (lineagelab ingest …)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = self._connect(read_only, wait)
        try:
            self._check_versions()
            if not read_only:
                self.derive_all()  # a server stopped before its model caught up
                self._replay_journals()
            elif journal_files(self.path):
                self._replay_read_only()
        except BaseException:
            self.con.close()
            raise

    # -- connection -------------------------------------------------------------------------------------------
    def _connect(self, read_only: bool, wait: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                return _open_duckdb(self.path, read_only)
            except duckdb.IOException as exc:
                text = str(exc)
                if "lock" not in text.lower():
                    raise StoreError(f"cannot open lineage store {self.path}: {text.splitlines()[0]}") from None
                if time.monotonic() >= deadline:
                    holder = text.split("(PID", 1)[1].split(")", 1)[0].strip() if "(PID" in text else "?"
                    raise StoreError(
                        f"lineage store {self.path} is in use by another process (pid {holder}); "
                        f"waited {wait:g}s. If it is `lineagelab serve`, send events with `lineagelab ingest "
                        f"--server URL` and query its API, or stop it."
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
            except duckdb.Error as exc:
                raise StoreError(f"{self.path} is not a lineage store: {str(exc).splitlines()[0]}") from None

    def close(self) -> None:
        for cursor in (self._derive_con, self._facts_con):
            if cursor is not None:
                cursor.close()
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction, serialised with ingest (for the server's own records)."""
        with self._lock, _transaction(self.con):
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

    # -- the server's journal -------------------------------------------------------------------------------
    def _replay_journals(self) -> None:
        """Store what a server acknowledged but had not moved into DuckDB when it stopped (see journal.py)."""
        for path in journal_files(self.path):
            report = self.ingest(read_journal(path))
            if report.rejected:  # validated when they arrived: only a change of the rules can do this
                kept = path.with_name(path.name + ".rejected")
                path.rename(kept)
                print(f"lineagelab: {len(report.rejected)} journaled events no longer validate; kept in {kept}: "
                      f"{report.rejected[0]}", file=sys.stderr)
            else:
                path.unlink()

    def _replay_read_only(self) -> None:
        """A read-only open finding a journal: replay it through a writable open when nobody holds the store."""
        self.con.close()
        try:
            with Store(self.path, wait=1.0):
                pass
        except StoreError:
            pass  # in use: its writer moves the journal itself
        self.con = self._connect(True, 10.0)

    # -- versions and migrations ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, str]:
        tables = {r[0] for r in self.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "meta" not in tables:
            if "raw_events" in tables:
                return {"raw_version": "1", "derived_version": "0"}
            if tables:
                raise StoreError(f"{self.path} is a DuckDB file but not a lineage store (no meta table)")
            return {}
        return dict(self.con.execute("SELECT key, value FROM meta").fetchall())

    def _check_versions(self) -> None:
        meta = self._meta()
        if not meta:
            if self.read_only:
                raise StoreError(f"{self.path} is empty: ingest events first")
            self._create()
            return
        raw_v = int(meta.get("raw_version", "0"))
        derived_v = int(meta.get("derived_version", "0"))
        if raw_v > schema.RAW_VERSION or derived_v > schema.DERIVED_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer lineagelab ({meta.get('written_by', '?')}, store layout "
                f"{raw_v}.{derived_v}); this is lineagelab {__version__} (layout "
                f"{schema.RAW_VERSION}.{schema.DERIVED_VERSION}): upgrade lineagelab to read it"
            )
        if raw_v < schema.RAW_VERSION or derived_v < schema.DERIVED_VERSION:
            if self.read_only:
                path, wait = self.path, 1.0
                self.con.close()
                with Store(path, wait=wait):
                    pass  # opening for writing migrates
                self.con = self._connect(True, wait)
                return
            self._migrate(raw_v, derived_v)

    def _create(self) -> None:
        con = self.con
        with _transaction(con):
            con.execute(schema.META)
            con.execute(schema.RAW_V1)
            for version in sorted(schema.RAW_MIGRATIONS):
                for stmt in schema.RAW_MIGRATIONS[version]:
                    con.execute(stmt)
            con.execute(schema.DERIVED)
            self._set_meta()

    def _set_meta(self) -> None:
        values = {
            "raw_version": str(schema.RAW_VERSION),
            "derived_version": str(schema.DERIVED_VERSION),
            "written_by": f"lineagelab {__version__}",
        }
        for k, v in values.items():
            self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])

    def _migrate(self, raw_v: int, derived_v: int) -> None:
        con = self.con
        with _transaction(con):
            con.execute(schema.META)
            for version in sorted(schema.RAW_MIGRATIONS):
                if version > raw_v:
                    for stmt in schema.RAW_MIGRATIONS[version]:
                        con.execute(stmt)
            self._rebuild_in_transaction()
            self._set_meta()

    # -- ingest ---------------------------------------------------------------------------------------------
    def ingest(
        self,
        events: Iterable[RawEvent],
        *,
        strict: bool = False,
        progress: Callable[[int], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> IngestReport:
        """Validate and store events. Each batch is one transaction; with ``strict`` the whole ingest is one and the
        first invalid event rolls it back.

        Parsing and validation (Python) run on this thread while a writer thread commits the previous batch
        (DuckDB releases the GIL), so the two overlap on a 2-core machine. For files, ``ingest_paths`` spreads the
        Python work over processes.
        """
        return self._ingest(_batches(iter(events), batch_size), strict, progress, bulk=False)

    def ingest_paths(self, paths: Iterable[str | os.PathLike[str]], *, strict: bool = False,
                     progress: Callable[[int], None] | None = None, workers: int | None = None) -> IngestReport:
        """Ingest files, directories or ``-``, preparing large inputs in ``workers`` processes (default: one per
        core; see ``parallel.py``)."""
        return self.ingest_batches(prepared_batches(paths, workers), strict=strict, progress=progress)

    def ingest_batches(self, batches: Iterable[Batch], *, strict: bool = False,
                       progress: Callable[[int], None] | None = None) -> IngestReport:
        """Store batches prepared elsewhere (worker processes: see ``parallel.py``), in order, in transactions of
        at least ``_MERGE_AT_LEAST`` events each but the last (with ``strict``, all one, rolled back at the first
        rejected event); what queues up while the writer commits joins the next. The model is refreshed once per
        ``_MODEL_EVERY`` events and at the end."""
        return self._ingest(batches, strict, progress, bulk=True)

    def _ingest(self, batches: Iterable[Batch], strict: bool, progress: Callable[[int], None] | None,
                bulk: bool) -> IngestReport:
        if self.read_only:
            raise StoreError("store opened read-only")
        report = IngestReport()
        writing = (_Writer(self, report, strict, progress, queued=_QUEUED, merge_up_to=_MERGE_UP_TO,
                           merge_at_least=_MERGE_AT_LEAST, model_every=_MODEL_EVERY)
                   if bulk else _Writer(self, report, strict, progress))
        with self._lock, self._derive_lock, _no_cyclic_gc(), self._bulk_settings(bulk):
            while self._derive_pending(BATCH_SIZE):
                pass  # what a server stored but had not derived: each batch below marks the model derived up to it
            with writing as writer:
                for batch in batches:
                    writer.put(batch)
        return report

    @contextmanager
    def _bulk_settings(self, wanted: bool) -> Iterator[None]:
        """While a bulk ingest commits: DuckDB on one thread, as worker processes keep the cores busy and its parallel
        operators then only add coordination (measured on 2 cores: 0.4 s less CPU for 20,000 events, ~5% faster);
        and no vacuum (``_without_vacuum``: the 176,000-event build 19.4-19.7 s with it, 17.6-18.0 s without; store
        207 vs 210 MiB, queries the same)."""
        if not wanted:
            yield
            return
        threads = scalar(self.con, "SELECT current_setting('threads')")
        self.con.execute("SET threads = 1")
        try:
            with _without_vacuum(self.con):
                yield
        finally:
            self.con.execute(f"SET threads = {int(threads)}")

    def ingest_docs(self, docs: Iterable[Any], source: str) -> IngestReport:
        """Ingest event documents built in this process (a Redshift run, a statement log), validated like any."""
        return self.ingest(RawEvent(source, f"event {i}", orjson.dumps(d), d) for i, d in enumerate(docs))

    def append_raw(self, items: list[Pending],
                   also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> set[str]:
        """Durably store validated events without deriving the model yet (``derive_pending`` does, in batches).

        The server acknowledges an event once this commits: the raw event is the source of truth, and a crash
        before the model caught up is repaired when the store is next opened for writing. ``also`` writes the
        caller's own records in the same transaction.
        """
        unique = list({p.event_id: p for p in items}.values())
        with self._lock:
            con = self.con
            existing = self._stored([p.event_id for p in unique])
            fresh = [p for p in unique if p.event_id not in existing]
            if fresh or also is not None:
                try:
                    with _transaction(con):
                        if fresh:
                            self._append_pending(fresh)
                        if also is not None:
                            also(con)  # the caller's own records, in the same transaction
                except BaseException:
                    self._forget()
                    raise
                if len(self._parsed) < _PARSED_MAX:
                    self._parsed.update((p.event_id, p) for p in fresh)
        return {p.event_id for p in fresh}

    def derived_seq(self) -> int:
        """The sequence number up to which the model reflects the raw events."""
        with self._derive_lock:
            return self._derived_seq(self._deriver())

    @staticmethod
    def _derived_seq(con: duckdb.DuckDBPyConnection) -> int:
        return int(scalar(con, "SELECT value FROM meta WHERE key = 'derived_seq'") or 0)

    def _deriver(self) -> duckdb.DuckDBPyConnection:
        if self._derive_con is None:
            self._derive_con = self.con.cursor()
        return self._derive_con

    def derive_pending(self, limit: int = BATCH_SIZE) -> int:
        """Derive the model for raw events stored but not yet derived (oldest first, at most ``limit``); return how
        many. Safe beside ``append_raw`` on another thread: it has a connection of its own."""
        with self._derive_lock:
            return self._derive_pending(limit)

    def derive_all(self, limit: int = BATCH_SIZE) -> int:
        """Derive everything pending, ``limit`` events a transaction; a backlog of more than one transaction without
        vacuum (``_without_vacuum``); return how many."""
        done = self.derive_pending(limit)
        if done < limit:  # fewer than a batch of raw events were left
            return done
        with _without_vacuum(self.reader()):  # this thread's own connection: the setting is the database's
            while more := self.derive_pending(limit):
                done += more
        return done

    def _derive_pending(self, limit: int) -> int:
        con = self._deriver()
        caught_up = 0
        if self._facts_seq(con) > self._derived_seq(con):  # a bulk ingest stopped before its model caught up
            with _transaction(con):
                caught_up = self._catch_up_model(con)
            # and raw events may be stored past its facts (a crash between a batch's two commits): derived below
        done = self._derived_seq(con)
        rows = con.execute("SELECT event_id, raw, kind, seq FROM raw_events WHERE seq > ? ORDER BY seq LIMIT ?",
                           [done, limit]).fetchall()
        if not rows:
            return caught_up
        facts = FactTables.of(facts_of(((r[0], r[1], r[2]) for r in rows), self._parsed)).arrow()
        with _transaction(con):
            self._derive_facts(con, facts)
            self._set_derived(con, rows[-1][3])
        return caught_up + len(rows)

    @staticmethod
    def _set_derived(con: duckdb.DuckDBPyConnection, seq: int) -> None:
        """Facts and model reflect the raw events up to ``seq``."""
        con.execute("INSERT OR REPLACE INTO meta VALUES ('derived_seq', ?), ('facts_seq', ?)", [str(seq), str(seq)])

    @staticmethod
    def _facts_seq(con: duckdb.DuckDBPyConnection) -> int:
        """Up to where the facts reflect the raw events: beyond ``derived_seq`` while a bulk ingest defers the
        model (``_catch_up_model``)."""
        value = scalar(con, "SELECT value FROM meta WHERE key = 'facts_seq'")
        return int(value) if value is not None else Store._derived_seq(con)

    def _catch_up_model(self, con: duckdb.DuckDBPyConnection, side: duckdb.DuckDBPyConnection | None = None) -> int:
        """Refresh the model for the events whose facts are stored but not yet reflected in it; return how many.

        A bulk ingest (``ingest_batches``) commits raw events and facts batch by batch and refreshes the model once
        for many batches: the refresh scans the fact tables, so it costs about as much for a few hundred events as
        for tens of thousands. The keys to refresh are read back from the facts, so a store left by an interrupted
        ingest catches up the same way when next opened. ``side``: another connection, not in a transaction, on
        which half of a first derivation runs meanwhile (``_on_side``)."""
        lo, hi = self._derived_seq(con), self._facts_seq(con)
        if hi <= lo:
            return 0
        if lo == 0:  # nothing derived yet: the model is empty and every fact is fresh
            if side is None:
                model.refresh_all(con)
            else:
                _on_side(side, model.refresh_all_datasets, lambda: model.refresh_all_jobs(con))
            self._set_derived(con, hi)
            return hi
        con.execute("CREATE OR REPLACE TEMP TABLE _fresh AS SELECT event_id FROM raw_events WHERE seq > ? AND seq <= ?",
                    [lo, hi])
        fresh = "(SELECT event_id FROM _fresh)"
        events = con.execute(f"SELECT DISTINCT run_key, job_id FROM f_events WHERE event_id IN {fresh}").fetchall()
        ds_ids = {r[0] for r in con.execute(f"SELECT DISTINCT ds_id FROM f_datasets WHERE event_id IN {fresh}"
                                            ).fetchall()}
        pairs = [(r[0], r[1]) for r in con.execute(
            f"SELECT ds_id, alias_id FROM f_symlinks WHERE event_id IN {fresh}").fetchall()]
        if pairs:
            model.refresh_aliases(con, pairs)
        model.refresh(con, {r[0] for r in events if r[0] is not None}, {r[1] for r in events if r[1] is not None},
                      ds_ids)
        self._set_derived(con, hi)
        return hi - lo

    def _derive_facts(self, con: duckdb.DuckDBPyConnection, facts: FactTables) -> None:
        self._insert_facts(con, facts)
        if facts.symlinks:
            model.refresh_aliases(con, facts.symlinks)
        model.refresh(con, facts.run_keys, facts.job_ids, facts.ds_ids)

    def _flush(self, batch: Batch, report: IngestReport, *, own_transaction: bool, model_too: bool = True) -> None:
        """Store a prepared batch and its facts, and refresh the model unless ``model_too`` is false (the caller
        then runs ``_catch_up_model``): in one transaction, or the caller's; a bulk ingest's (its own transactions,
        model deferred) in two side by side (``_flush_split``)."""
        con = self.con
        report.rejected.extend(batch.rejected)
        existing = self._stored(batch.ids)
        report.duplicates += batch.duplicates + len(existing)
        if existing:
            batch = batch.without(existing)
        if not batch.ids:
            return
        try:
            if own_transaction and not model_too:
                self._flush_split(batch)
            else:
                self._flush_together(con, batch, own_transaction, model_too)
        except BaseException:
            self._forget()
            raise
        report.accepted += len(batch.ids)
        report.accepted_ids.extend(batch.ids)

    def _flush_together(self, con: duckdb.DuckDBPyConnection, batch: Batch, own_transaction: bool,
                        model_too: bool) -> None:
        """Raw events and facts (and the model, with ``model_too``) in one transaction, the caller's or its own."""
        with _transaction(con) if own_transaction else nullcontext():
            seq0 = self._last_seq()
            self._insert_raw(batch.raw, batch.ids)
            if model_too:
                self._derive_facts(con, batch.facts)
                self._set_derived(con, seq0 + len(batch.ids))
            else:
                self._insert_facts(con, batch.facts)
                con.execute("INSERT OR REPLACE INTO meta VALUES ('facts_seq', ?)", [str(seq0 + len(batch.ids))])

    def _flush_split(self, batch: Batch) -> None:
        """A bulk ingest's batch (model deferred): raw events and facts in two transactions on two connections at
        once, DuckDB working on both (each insert and commit is mostly its own C++ work, GIL released). The facts
        commit only once the raw events have: a crash in between leaves raw events ahead of ``facts_seq``, which
        ``_derive_pending`` derives when the store is next opened for writing, as it does for the server's appends.
        Measured on 20,000 synthetic events stored in 10,000-event batches: 0.78-0.93 s one after the other,
        0.50-0.59 s side by side (the last batches of an ingest, after the workers are done, have a core free)."""
        facts_con = self._facts_con or self.con.cursor()
        self._facts_con = facts_con
        seq_end = self._last_seq() + len(batch.ids)
        raw_committed = threading.Event()
        raw_ok = False
        failed: list[BaseException] = []

        def store_facts() -> None:
            try:
                with _transaction(facts_con):
                    self._insert_facts(facts_con, batch.facts)
                    raw_committed.wait()
                    if not raw_ok:
                        raise _RawRolledBack
                    facts_con.execute("INSERT OR REPLACE INTO meta VALUES ('facts_seq', ?)", [str(seq_end)])
            except BaseException as exc:  # handed to the writer's thread below
                failed.append(exc)

        facts = threading.Thread(target=store_facts, name="lineagelab-facts", daemon=True)
        facts.start()
        try:
            with _transaction(self.con):
                self._insert_raw(batch.raw, batch.ids)
            raw_ok = True
        finally:
            raw_committed.set()
            facts.join()
        if failed and not isinstance(failed[0], _RawRolledBack):
            raise failed[0]

    def _forget(self) -> None:
        """A rollback: what this process remembers of the raw table is read again when next needed."""
        self._seq = None
        self._known = None

    def stored_ids(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are in raw_events. New ids (nearly all) are told apart without the lock, so the server's
        acknowledgements do not wait while its mover holds the lock for a large append."""
        known = self._known
        if known is not None and not any(hash(i) in known for i in ids):
            return set()
        with self._lock:
            return self._stored(ids)

    def _stored(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored already. This process is the only writer, so it keeps the hash of every
        stored id and asks DuckDB only about ids whose hash it has seen: a new event, nearly always, costs no query
        (measured: the index probe for a group of 8 ids took ~1.1 ms, as much as a third of the group's commit)."""
        if self._known is None:
            cur = self.con.execute("SELECT event_id FROM raw_events")
            known: set[int] = set()
            while chunk := cur.fetchmany(100_000):
                known.update(hash(r[0]) for r in chunk)
            self._known = known
        maybe = [i for i in ids if hash(i) in self._known]
        if not maybe:
            return set()
        return {r[0] for r in self.con.execute(
            f"SELECT event_id FROM raw_events WHERE event_id IN {_in_list(maybe)}").fetchall()}

    def last_seq(self) -> int:
        """The newest event's sequence number (a watermark for ``derive_pending``)."""
        with self._lock:
            return self._last_seq()

    def _last_seq(self) -> int:
        """The last sequence number used; this process is the only writer, so it is read once and then kept."""
        if self._seq is None:
            self._seq = int(scalar(self.con, "SELECT coalesce(max(seq), 0) FROM raw_events"))
        return self._seq

    def _append_pending(self, fresh: list[Pending]) -> None:
        """Append validated events (the server's groups): small groups as one VALUES statement, which beats
        building an Arrow table for them."""
        if len(fresh) > _SMALL_BATCH:
            self._insert_raw(raw_table(fresh), [p.event_id for p in fresh])
            return
        seq0, now = self._last_seq(), datetime.now(UTC)
        if self._known is not None:
            self._known.update(hash(p.event_id) for p in fresh)
        columns = (*RAW_FIELDS, "raw", "seq", "ingested_at")
        values = ", ".join([f"({', '.join('?' * len(columns))})"] * len(fresh))
        params: list[Any] = []
        for i, p in enumerate(fresh):
            params += [*raw_fields(p), p.text.decode("utf-8"), seq0 + 1 + i, now]
        self.con.execute(f"INSERT INTO raw_events ({', '.join(columns)}) VALUES {values}", params)
        self._seq = seq0 + len(fresh)

    def _insert_raw(self, table: pa.Table, ids: list[str]) -> None:
        """Append ``raw_table`` rows, numbering them after the last stored event."""
        seq0, n = self._last_seq(), table.num_rows
        if self._known is not None:
            self._known.update(hash(i) for i in ids)
        table = table.append_column("seq", pa.array(range(seq0 + 1, seq0 + 1 + n), pa.int64()))
        table = table.append_column("ingested_at", pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")))
        self._append(self.con, "raw_events", table)
        self._seq = seq0 + n  # a rolled-back transaction resets it (see _forget)

    @staticmethod
    def _append(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
        con.register("_batch", table)
        try:
            cols = ", ".join(table.column_names)
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _batch")
        finally:
            with suppress(duckdb.Error):
                con.unregister("_batch")

    def _insert_facts(self, con: duckdb.DuckDBPyConnection, facts: FactTables) -> None:
        tables = facts.tables
        for name in ("f_events", "f_datasets", "f_symlinks"):
            if name in tables:
                self._append(con, name, tables[name])
        if "uses" in tables and "facets" in tables:
            column_lineage.insert(con, tables["facets"], tables.get("edges"), tables["uses"])
        if "schemas" in tables:  # only the schemas not stored yet
            con.register("_schemas", tables["schemas"])
            con.register("_fields", tables["schema_fields"])
            try:
                # DISTINCT: merged batches may each carry the same new schema
                con.execute("CREATE OR REPLACE TEMP TABLE _new_schemas AS SELECT DISTINCT * FROM _schemas "
                            "WHERE schema_hash NOT IN (SELECT schema_hash FROM schemas)")
                con.execute("INSERT INTO schemas SELECT schema_hash, field_count FROM _new_schemas")
                con.execute("INSERT INTO schema_fields SELECT DISTINCT schema_hash, ordinal, name, type, description "
                            "FROM _fields WHERE schema_hash IN (SELECT schema_hash FROM _new_schemas)")
            finally:
                with suppress(duckdb.Error):  # an aborted transaction refuses even this; its error is the one to see
                    con.unregister("_schemas")
                    con.unregister("_fields")

    # -- rebuild --------------------------------------------------------------------------------------------
    def rebuild(self, progress: Callable[[int], None] | None = None) -> None:
        """Drop the derived model and derive it again from the raw events."""
        if self.read_only:
            raise StoreError("store opened read-only")
        with self._lock, self._derive_lock, _transaction(self.con):
            self._rebuild_in_transaction(progress)
            self._set_meta()

    def _rebuild_in_transaction(self, progress: Callable[[int], None] | None = None) -> None:
        with _no_cyclic_gc():
            self._rebuild_facts(progress)

    def _rebuild_facts(self, progress: Callable[[int], None] | None) -> None:
        con = self.con
        existing = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                    "WHERE table_schema = 'main'").fetchall())
        for name in schema.DERIVED_VIEWS + schema.DERIVED_TABLES:
            if name in existing:  # layout 1 had the cumulative edges as tables
                con.execute(f"DROP {'VIEW' if existing[name] == 'VIEW' else 'TABLE'} {name}")
        con.execute(schema.DERIVED)
        reader = con.cursor()  # a second connection streams raw rows while this one writes
        reader.execute("SELECT event_id, raw, kind FROM raw_events ORDER BY seq")
        chunks: Iterator[list[tuple[str, str, str]]] = iter(lambda: reader.fetchmany(BATCH_SIZE), [])
        workers = default_workers()
        with ExitStack() as stack:
            if workers > 1 and scalar(con, "SELECT count(*) FROM raw_events") >= _PARALLEL_REBUILD:
                # the Python half (parsing, deriving facts) in worker processes, as a bulk ingest does
                tables: Iterator[FactTables] = stack.enter_context(Pool(workers)).map("facts", chunks)
            else:
                schemas_sent: set[str] = set()
                tables = (facts_of_rows(rows, schemas_sent) for rows in chunks)
            for facts in tables:
                facts = facts.arrow()  # as the workers send them
                self._insert_facts(con, facts)
                if progress and "f_events" in facts.tables:
                    progress(facts.tables["f_events"].num_rows)  # one row an event
        reader.close()
        model.refresh_all(con)
        self._set_derived(con, int(scalar(con, "SELECT coalesce(max(seq), 0) FROM raw_events")))

    # -- reading --------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        con = self.reader()  # this thread's own connection: the server's writer threads use self.con
        counts = {
            "events": scalar(con, "SELECT count(*) FROM raw_events"),
            "run_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='RunEvent'"),
            "dataset_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='DatasetEvent'"),
            "job_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='JobEvent'"),
            "runs": scalar(con, "SELECT count(*) FROM runs"),
            "jobs": scalar(con, "SELECT count(*) FROM jobs"),
            "job_versions": scalar(con, "SELECT count(*) FROM job_versions"),
            "datasets": scalar(con, "SELECT count(*) FROM datasets"),
            "dataset_versions": scalar(con, "SELECT count(*) FROM dataset_versions"),
            "column_edges": scalar(con, "SELECT count(*) FROM all_col"),
            "symlinked_identities": scalar(con, "SELECT count(*) FROM aliases"),
        }
        first, last = row(con, "SELECT min(event_time), max(event_time) FROM raw_events") or (None, None)
        size = sum(p.stat().st_size for p in (self.path, Path(str(self.path) + ".wal")) if p.exists())
        return {**counts, "first_event": first, "last_event": last, "size_bytes": size, "path": str(self.path)}

    def iter_events(
        self, *, since: datetime | None = None, until: datetime | None = None, job: str | None = None,
        run: str | None = None,
    ) -> Iterator[tuple[str, str, str]]:
        """(event_id, kind, raw) of the stored events in eventTime order, filtered."""
        where: list[str] = ["true"]
        params: list[Any] = []
        for clause, value in (("event_time >= ?", since), ("event_time <= ?", until), ("run_id = ?", run)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if job is not None:
            where.append("(job_name = ? OR job_namespace || '.' || job_name = ?)")
            params += [job, job]
        cur = self.cursor()
        cur.execute(f"SELECT event_id, kind, raw FROM raw_events WHERE {' AND '.join(where)} "
                    "ORDER BY event_time, seq", params)
        while chunk := cur.fetchmany(2000):
            yield from ((r[0], r[1], r[2]) for r in chunk)
        cur.close()

    def iter_raw(self, **filters: Any) -> Iterator[str]:
        return (raw for _, _, raw in self.iter_events(**filters))

    def export_events(self, out: IO[bytes], **filters: Any) -> int:
        """Write raw events as NDJSON; a multi-line original is compacted (same content, same event id)."""
        n = 0
        for raw in self.iter_raw(**filters):
            data = raw.encode("utf-8")
            if b"\n" in data or b"\r" in data:
                data = orjson.dumps(orjson.loads(data))
            out.write(data + b"\n")
            n += 1
        return n
