"""The lineage store: one DuckDB file holding raw events and the model derived from them.

Concurrency: DuckDB lets one process open a file for writing, and then no other process may open it at all. Within that
process any number of threads read consistent snapshots (``Store.cursor()``) while a writer commits. So the process
that writes (``lineagelab ingest`` or ``lineagelab serve``) is the one that serves reads; another process that finds
the file locked waits up to ``wait`` seconds for it, then fails with a message naming the holder. When the server runs
it is the writer: events reach it over HTTP (``lineagelab ingest --server``) and queries go to its viewer API.
"""

from __future__ import annotations

import gc
import hashlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson
import pyarrow as pa

from lineagelab import __version__
from lineagelab.events.reader import RawEvent
from lineagelab.events.validation import EventKind, InvalidEvent, validate_event
from lineagelab.store import column_lineage, model, schema
from lineagelab.store.derive import Facts, derive, event_time_of
from lineagelab.store.journal import journal_files, read_journal
from lineagelab.store.sqlutil import row, scalar

DEFAULT_PATH = Path(".lineagelab") / "lineage.duckdb"
BATCH_SIZE = 5000
_SMALL_BATCH = 64  # up to here one VALUES statement beats an Arrow batch (64 rows: 4.4 vs 7.1 ms; 128: 16 vs 6 ms)
_PARSED_MAX = 50_000  # parsed documents kept for the deriver (a backlog beyond this is parsed again from raw)
_RAW_COLUMNS = ("event_id, seq, ingested_at, event_time, event_type, kind, run_id, job_namespace, job_name, producer, "
                "raw, schema_url, size")


class StoreError(Exception):
    """A problem with the store file itself, phrased for the user."""


def default_path() -> Path:
    env = os.environ.get("LINEAGELAB_STORE")
    return Path(env) if env else DEFAULT_PATH


@dataclass
class Rejection:
    where: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.message}" if self.path else f"{self.where}: {self.message}"


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    accepted_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.rejected


class StrictStop(StoreError):
    """``strict`` ingest met an invalid event: nothing of that ingest was stored."""


def _in_list(values: list[str]) -> str:
    """A literal SQL list (DuckDB turns ``key IN (literals)`` on an indexed key into index lookups)."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")" if values else "(NULL)"


def event_id_of(doc: Any) -> str:
    """Content hash: the same event (whatever its key order or whitespace) has the same id."""
    try:
        canonical = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits: orjson refuses, the stdlib does not
        import json

        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(canonical).hexdigest()[:32]


def _facts_of(rows: Iterable[tuple[str, str, str]], parsed: dict[str, Pending] | None = None) -> Facts:
    """The facts of stored events (event_id, raw, kind): what both catching up and rebuilding derive from. Events
    found in ``parsed`` (taken out of it) are not parsed again."""
    facts = Facts()
    for event_id, raw, kind in rows:
        known = parsed.pop(event_id, None) if parsed is not None else None
        if known is not None:
            derive(facts, event_id, known.kind, known.doc, known.event_time)
        else:
            doc = orjson.loads(raw)
            derive(facts, event_id, EventKind(kind), doc, event_time_of(doc))
    return facts


@dataclass(slots=True)
class Pending:
    event_id: str
    kind: EventKind
    doc: Any
    text: bytes
    event_time: datetime | None


class _Writer:
    """Commits batches on a thread of its own, one at a time, in order; errors surface on the caller's thread."""

    def __init__(self, store: Store, report: IngestReport, strict: bool, progress: Callable[[int], None] | None):
        self.store, self.report, self.strict, self.progress = store, report, strict, progress
        self.queue: queue.Queue[tuple[list[Pending], Facts] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.aborted = False
        self.thread = threading.Thread(target=self._run, name="lineagelab-writer", daemon=True)

    def __enter__(self) -> _Writer:
        if self.strict:
            self.store.con.execute("BEGIN")
        self.thread.start()
        return self

    def _run(self) -> None:
        while (job := self.queue.get()) is not None:
            if self.error is not None or self.aborted:
                continue  # drain
            batch, facts = job
            try:
                self.store._flush(batch, self.report, own_transaction=not self.strict, facts=facts)
                if self.progress:
                    self.progress(len(batch))
            except BaseException as exc:
                self.error = exc

    def put(self, batch: list[Pending], facts: Facts) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put((batch, facts))

    def abort(self) -> None:
        self.aborted = True

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self.queue.put(None)
        self.thread.join()
        failed = exc is not None or self.error is not None or self.aborted
        if self.strict:
            self.store.con.execute("ROLLBACK" if failed else "COMMIT")
            if failed:
                self.store._forget()  # the rolled-back batches' sequence numbers and ids are free again
                self.report.accepted, self.report.accepted_ids = 0, []
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
        self._parsed: dict[str, Pending] = {}  # appended events whose parsed documents derive_pending may reuse
        if read_only and not self.path.exists():
            raise StoreError(f"no lineage store at {self.path}: ingest events first (lineagelab ingest …)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.con = self._connect(read_only, wait)
        try:
            self._check_versions()
            if not read_only:
                while self.derive_pending():
                    pass  # a server stopped before its model caught up
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
                return duckdb.connect(str(self.path), read_only=read_only)
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
        if self._derive_con is not None:
            self._derive_con.close()
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One write transaction, serialised with ingest (for the server's own records)."""
        with self._lock:
            self.con.execute("BEGIN")
            try:
                yield self.con
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

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
        con.execute("BEGIN")
        con.execute(schema.META)
        con.execute(schema.RAW_V1)
        for version in sorted(schema.RAW_MIGRATIONS):
            for stmt in schema.RAW_MIGRATIONS[version]:
                con.execute(stmt)
        con.execute(schema.DERIVED)
        self._set_meta()
        con.execute("COMMIT")

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
        con.execute("BEGIN")
        try:
            con.execute(schema.META)
            for version in sorted(schema.RAW_MIGRATIONS):
                if version > raw_v:
                    for stmt in schema.RAW_MIGRATIONS[version]:
                        con.execute(stmt)
            self._rebuild_in_transaction()
            self._set_meta()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

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
        (DuckDB releases the GIL), so the two overlap on a 2-core machine.
        """
        if self.read_only:
            raise StoreError("store opened read-only")
        report = IngestReport()
        # A batch holds thousands of parsed documents; the cyclic GC would rescan them all every few hundred
        # allocations (measured: JSON parsing 6x slower). Nothing here makes cycles, so pause it.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        with self._lock, self._derive_lock:
            while self._derive_pending(BATCH_SIZE):
                pass  # what a server stored but had not derived: each batch below marks the model derived up to it
            self._ingest_locked(events, report, strict, progress, batch_size)
        if gc_was_enabled:
            gc.enable()
        return report

    def _ingest_locked(self, events: Iterable[RawEvent], report: IngestReport, strict: bool,
                       progress: Callable[[int], None] | None, batch_size: int) -> None:
        # Facts are derived here, on the reading thread, while the writer thread spends its time in DuckDB (which
        # releases the GIL): the Python work of both threads then overlaps with the database work.
        with _Writer(self, report, strict, progress) as writer:
            batch: list[Pending] = []
            facts = Facts()
            seen: set[str] = set()
            for raw in events:
                item = self._accept(raw, report)
                if item is None:
                    if strict:
                        writer.abort()
                        raise StrictStop(str(report.rejected[-1]))
                    continue
                if item.event_id in seen:
                    report.duplicates += 1
                    continue
                seen.add(item.event_id)
                batch.append(item)
                derive(facts, item.event_id, item.kind, item.doc, item.event_time)
                if len(batch) >= batch_size:
                    writer.put(batch, facts)
                    batch, facts, seen = [], Facts(), set()
            if batch:
                writer.put(batch, facts)

    def ingest_docs(self, docs: Iterable[Any], source: str) -> IngestReport:
        """Ingest event documents built in this process (a Redshift run, a statement log), validated like any."""
        return self.ingest(RawEvent(source, f"event {i}", orjson.dumps(d), d) for i, d in enumerate(docs))

    @staticmethod
    def prepare(raw: RawEvent) -> Pending | Rejection:
        """Validate one event (no store access: safe on any thread)."""
        report = IngestReport()
        item = Store._accept(raw, report)
        return item if item is not None else report.rejected[0]

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
                con.execute("BEGIN")
                try:
                    if fresh:
                        self._insert_raw(fresh, self._last_seq(), datetime.now(UTC))
                    if also is not None:
                        also(con)  # the caller's own records, in the same transaction
                    con.execute("COMMIT")
                    if len(self._parsed) < _PARSED_MAX:
                        self._parsed.update((p.event_id, p) for p in fresh)
                except BaseException:
                    con.execute("ROLLBACK")
                    self._forget()
                    raise
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

    def _derive_pending(self, limit: int) -> int:
        con = self._deriver()
        done = self._derived_seq(con)
        rows = con.execute("SELECT event_id, raw, kind, seq FROM raw_events WHERE seq > ? ORDER BY seq LIMIT ?",
                           [done, limit]).fetchall()
        if not rows:
            return 0
        facts = _facts_of(((r[0], r[1], r[2]) for r in rows), self._parsed)
        con.execute("BEGIN")
        try:
            self._derive_facts(con, facts)
            self._set_derived(con, rows[-1][3])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return len(rows)

    @staticmethod
    def _set_derived(con: duckdb.DuckDBPyConnection, seq: int) -> None:
        con.execute("INSERT OR REPLACE INTO meta VALUES ('derived_seq', ?)", [str(seq)])

    def _derive_facts(self, con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
        self._insert_facts(con, facts)
        if facts.symlinks:
            model.refresh_aliases(con, [(s[1], s[2]) for s in facts.symlinks])
        model.refresh(con, facts.run_keys, facts.job_ids, facts.ds_ids)

    @staticmethod
    def _accept(raw: RawEvent, report: IngestReport) -> Pending | None:
        if raw.error is not None:
            report.rejected.append(Rejection(raw.where, "", raw.error))
            return None
        try:
            kind = validate_event(raw.doc)
            try:
                event_time = event_time_of(raw.doc)
            except ValueError as exc:
                raise InvalidEvent("$.eventTime", f"not an ISO-8601 timestamp: {exc}") from None
        except InvalidEvent as exc:
            report.rejected.append(Rejection(raw.where, exc.path, exc.message))
            return None
        return Pending(event_id_of(raw.doc), kind, raw.doc, raw.text, event_time)

    def _flush(self, batch: list[Pending], report: IngestReport, *, own_transaction: bool,
               facts: Facts | None = None) -> None:
        """Store a batch and its facts (derived here unless the caller did), in one transaction unless the caller
        holds one."""
        con = self.con
        existing = self._stored([p.event_id for p in batch])
        fresh = [p for p in batch if p.event_id not in existing]
        report.duplicates += len(batch) - len(fresh)
        if not fresh:
            return
        if facts is None:
            facts = Facts()
            for p in fresh:
                derive(facts, p.event_id, p.kind, p.doc, p.event_time)
        elif existing:
            facts = facts.only({p.event_id for p in fresh})
        if own_transaction:
            con.execute("BEGIN")
        try:
            seq0 = self._last_seq()
            now = datetime.now(UTC)
            self._insert_raw(fresh, seq0, now)
            self._derive_facts(con, facts)
            self._set_derived(con, seq0 + len(fresh))
            if own_transaction:
                con.execute("COMMIT")
        except BaseException:
            self._forget()
            if own_transaction:
                con.execute("ROLLBACK")
            raise
        report.accepted += len(fresh)
        report.accepted_ids.extend(p.event_id for p in fresh)

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

    def _insert_raw(self, fresh: list[Pending], seq0: int, now: datetime) -> None:
        if self._known is not None:
            self._known.update(hash(p.event_id) for p in fresh)
        docs = [p.doc for p in fresh]
        job = [d.get("job") or {} for d in docs]
        run = [d.get("run") or {} for d in docs]
        if len(fresh) <= _SMALL_BATCH:  # a server's group commit: one VALUES statement beats an Arrow table
            values = ", ".join([f"({', '.join('?' * 13)})"] * len(fresh))
            params: list[Any] = []
            for i, (p, d, j, r) in enumerate(zip(fresh, docs, job, run, strict=True)):
                params += [p.event_id, seq0 + 1 + i, now, p.event_time,
                           d.get("eventType") if p.kind is EventKind.RUN else None, p.kind.value, r.get("runId"),
                           j.get("namespace"), j.get("name"), d.get("producer"), p.text.decode("utf-8"),
                           d.get("schemaURL"), len(p.text)]
            self.con.execute(f"INSERT INTO raw_events ({_RAW_COLUMNS}) VALUES {values}", params)
            self._seq = seq0 + len(fresh)
            return
        table = pa.table(
            {
                "event_id": [p.event_id for p in fresh],
                "seq": pa.array(range(seq0 + 1, seq0 + 1 + len(fresh)), pa.int64()),
                "ingested_at": pa.array([now] * len(fresh), pa.timestamp("us", tz="UTC")),
                "event_time": pa.array([p.event_time for p in fresh], pa.timestamp("us", tz="UTC")),
                "event_type": [d.get("eventType") if p.kind is EventKind.RUN else None
                               for p, d in zip(fresh, docs, strict=True)],
                "kind": [p.kind.value for p in fresh],
                "run_id": [r.get("runId") for r in run],
                "job_namespace": [j.get("namespace") for j in job],
                "job_name": [j.get("name") for j in job],
                "producer": [d.get("producer") for d in docs],
                "raw": [p.text.decode("utf-8") for p in fresh],
                "schema_url": [d.get("schemaURL") for d in docs],
                "size": pa.array([len(p.text) for p in fresh], pa.int32()),
            }
        )
        self._append(self.con, "raw_events", table)
        self._seq = seq0 + len(fresh)  # a rolled-back transaction resets it (see _forget)

    @staticmethod
    def _append(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
        con.register("_batch", table)
        try:
            cols = ", ".join(table.column_names)
            con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _batch")
        finally:
            con.unregister("_batch")

    def _insert_facts(self, con: duckdb.DuckDBPyConnection, facts: Facts) -> None:
        ts = pa.timestamp("us", tz="UTC")
        layouts: list[tuple[str, list[tuple[Any, ...]], list[tuple[str, pa.DataType]]]] = [
            ("f_events", facts.events, [("event_id", pa.string()), ("kind", pa.string()), ("run_key", pa.string()),
                                        ("job_id", pa.int64()), ("job_namespace", pa.string()),
                                        ("job_name", pa.string()), ("event_type", pa.string()), ("event_time", ts),
                                        ("parent_run_id", pa.string()), ("parent_job", pa.string()),
                                        ("error_message", pa.string())]),
            ("f_datasets", facts.datasets, [("event_id", pa.string()), ("run_key", pa.string()),
                                            ("job_id", pa.int64()), ("ds_id", pa.int64()),
                                            ("namespace", pa.string()), ("name", pa.string()),
                                            ("role", pa.string()), ("event_time", ts), ("event_type", pa.string()),
                                            ("schema_hash", pa.string()), ("written", pa.bool_()),
                                            ("lifecycle", pa.string()), ("row_count", pa.int64())]),
            ("f_symlinks", facts.symlinks, [("event_id", pa.string()), ("ds_id", pa.int64()),
                                            ("alias_id", pa.int64()), ("alias_namespace", pa.string()),
                                            ("alias_name", pa.string()), ("type", pa.string())]),
        ]
        for name, rows, columns in layouts:
            if rows:
                cols = zip(*rows, strict=True)
                arrays = [pa.array(list(col), typ) for col, (_, typ) in zip(cols, columns, strict=True)]
                self._append(con, name, pa.Table.from_arrays(arrays, names=[c for c, _ in columns]))
        if facts.lineage_uses:
            distinct = pa.table({
                "fid": pa.array(list(facts.lineage_facets.values()), pa.int32()),
                "facet": pa.array(list(facts.lineage_facets), pa.binary()).cast(pa.string()),
            })
            uses = facts.lineage_uses
            used = pa.table({
                "event_id": [u[0] for u in uses], "run_key": [u[1] for u in uses],
                "job_id": pa.array([u[2] for u in uses], pa.int64()),
                "event_time": pa.array([u[3] for u in uses], pa.timestamp("us", tz="UTC")),
                "event_type": [u[4] for u in uses], "out_ds": pa.array([u[5] for u in uses], pa.int64()),
                "fid": pa.array([u[6] for u in uses], pa.int32()),
            })
            facts.ds_ids |= column_lineage.expand(con, distinct, used)
        if facts.schemas:
            hashes = list(facts.schemas)
            known = {r[0] for r in con.execute(
                "SELECT schema_hash FROM schemas WHERE schema_hash IN (SELECT unnest($1::VARCHAR[]))", [hashes]
            ).fetchall()}
            new = [h for h in hashes if h not in known]
            if new:
                self._append(con, "schemas", pa.table({"schema_hash": new,
                                                  "field_count": [len(facts.schemas[h]) for h in new]}))
                rows = [(h, i, *f) for h in new for i, f in enumerate(facts.schemas[h])]
                self._append(con, "schema_fields", pa.table({
                    "schema_hash": [r[0] for r in rows], "ordinal": pa.array([r[1] for r in rows], pa.int32()),
                    "name": [r[2] for r in rows], "type": [r[3] for r in rows], "description": [r[4] for r in rows],
                }))

    # -- rebuild --------------------------------------------------------------------------------------------
    def rebuild(self, progress: Callable[[int], None] | None = None) -> None:
        """Drop the derived model and derive it again from the raw events."""
        if self.read_only:
            raise StoreError("store opened read-only")
        with self._lock, self._derive_lock:
            self.con.execute("BEGIN")
            try:
                self._rebuild_in_transaction(progress)
                self._set_meta()
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

    def _rebuild_in_transaction(self, progress: Callable[[int], None] | None = None) -> None:
        con = self.con
        existing = dict(con.execute("SELECT table_name, table_type FROM information_schema.tables "
                                    "WHERE table_schema = 'main'").fetchall())
        for name in schema.DERIVED_VIEWS + schema.DERIVED_TABLES:
            if name in existing:  # layout 1 had the cumulative edges as tables
                con.execute(f"DROP {'VIEW' if existing[name] == 'VIEW' else 'TABLE'} {name}")
        con.execute(schema.DERIVED)
        reader = con.cursor()  # a second connection streams raw rows while this one writes
        reader.execute("SELECT event_id, raw, kind FROM raw_events ORDER BY seq")
        all_facts = Facts()
        while rows := reader.fetchmany(BATCH_SIZE):
            facts = _facts_of(rows)
            self._insert_facts(con, facts)
            all_facts.run_keys |= facts.run_keys
            all_facts.job_ids |= facts.job_ids
            all_facts.ds_ids |= facts.ds_ids
            all_facts.symlinks.extend(facts.symlinks)
            if progress:
                progress(len(rows))
        reader.close()
        model.refresh_aliases(con, [(s[1], s[2]) for s in all_facts.symlinks])
        model.refresh(con, all_facts.run_keys, all_facts.job_ids, all_facts.ds_ids)
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
