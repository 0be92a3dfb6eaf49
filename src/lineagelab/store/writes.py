"""The writing process's appends to the raw and fact tables, and what it remembers of them.

DuckDB lets one process write a store, so that process numbers the raw events itself (``seq``) and keeps the hash of
every stored event id: a new event, nearly always, is told apart without a query. A rollback makes it forget both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb
import pyarrow as pa

from lineagelab.ingest.prepare import RAW_FIELDS, Batch, FactTables, Pending, Rejection, facts_of, raw_fields, raw_table
from lineagelab.store import catchup, column_edges, model
from lineagelab.store.sqlutil import in_list, transaction

BATCH_SIZE = 5000  # events a transaction: of a serial ingest, of deriving what appends left, of a rebuild's reads
_SMALL_BATCH = 64  # up to here one VALUES statement beats building an Arrow table
_PARSED_MAX = 50_000  # parsed documents kept for the deriver (a backlog beyond this is parsed again from raw)


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


class Writes:
    """The store's writes, on its connection ``con`` and cursors of it: ``facts`` (a bulk ingest's second writer)
    and ``deriver`` (the model derived beside appends: DuckDB runs the two transactions side by side)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._facts_con: duckdb.DuckDBPyConnection | None = None
        self._derive_con: duckdb.DuckDBPyConnection | None = None
        self._seq: int | None = None
        self._known: set[int] | None = None  # see stored
        self._parsed: dict[str, Pending] = {}  # appended events whose parsed documents the deriver may reuse

    def close(self) -> None:
        for cursor in (self._derive_con, self._facts_con):
            if cursor is not None:
                cursor.close()

    def facts(self) -> duckdb.DuckDBPyConnection:
        if self._facts_con is None:
            self._facts_con = self.con.cursor()
        return self._facts_con

    def deriver(self) -> duckdb.DuckDBPyConnection:
        if self._derive_con is None:
            self._derive_con = self.con.cursor()
        return self._derive_con

    # -- what is stored -----------------------------------------------------------------------------------------
    def surely_new(self, ids: list[str]) -> bool:
        """None of ``ids`` is stored, told from the hashes alone (no lock needed: false when unsure)."""
        known = self._known
        return known is not None and not any(hash(i) in known for i in ids)

    def stored(self, ids: list[str]) -> set[str]:
        """Which of ``ids`` are stored already; DuckDB is asked only about ids whose hash was seen."""
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
            f"SELECT event_id FROM raw_events WHERE event_id IN {in_list(maybe)}").fetchall()}

    def last_seq(self) -> int:
        """The last sequence number used: read once, then kept."""
        if self._seq is None:
            self._seq = catchup.newest_seq(self.con)
        return self._seq

    def forget(self) -> None:
        """A rollback: what this process remembers of the raw table is read again when next needed."""
        self._seq = None
        self._known = None

    # -- the server's appends -----------------------------------------------------------------------------------
    def append(self, items: list[Pending],
               also: Callable[[duckdb.DuckDBPyConnection], None] | None = None) -> set[str]:
        """Store validated events not stored yet, and ``also`` the caller's records, in one transaction, without
        deriving the model; return the ids that were new."""
        unique = list({p.event_id: p for p in items}.values())
        existing = self.stored([p.event_id for p in unique])
        fresh = [p for p in unique if p.event_id not in existing]
        if fresh or also is not None:
            try:
                with transaction(self.con):
                    if fresh:
                        self._append_pending(fresh)
                    if also is not None:
                        also(self.con)
            except BaseException:
                self.forget()
                raise
            if len(self._parsed) < _PARSED_MAX:
                self._parsed.update((p.event_id, p) for p in fresh)
        return {p.event_id for p in fresh}

    def _append_pending(self, fresh: list[Pending]) -> None:
        if len(fresh) > _SMALL_BATCH:
            self.insert_raw(raw_table(fresh), [p.event_id for p in fresh])
            return
        seq0, now = self.last_seq(), datetime.now(UTC)
        if self._known is not None:
            self._known.update(hash(p.event_id) for p in fresh)
        columns = (*RAW_FIELDS, "raw", "seq", "ingested_at")
        values = ", ".join([f"({', '.join('?' * len(columns))})"] * len(fresh))
        params: list[Any] = []
        for i, p in enumerate(fresh):
            params += [*raw_fields(p), p.text.decode("utf-8"), seq0 + 1 + i, now]
        self.con.execute(f"INSERT INTO raw_events ({', '.join(columns)}) VALUES {values}", params)
        self._seq = seq0 + len(fresh)

    def derive_pending(self, limit: int) -> int:
        """Derive the model for raw events stored but not yet derived (oldest first, at most ``limit``), on the
        deriver's connection; return how many."""
        con = self.deriver()
        caught_up = 0
        if catchup.facts_seq(con) > catchup.derived_seq(con):  # a bulk ingest stopped before its model caught up
            with transaction(con):
                caught_up = catchup.catch_up_model(con)
            # and raw events may be stored past its facts (a crash between a batch's two commits): derived below
        done = catchup.derived_seq(con)
        rows = con.execute("SELECT event_id, raw, kind, seq FROM raw_events WHERE seq > ? ORDER BY seq LIMIT ?",
                           [done, limit]).fetchall()
        if not rows:
            return caught_up
        facts = FactTables.of(facts_of(((r[0], r[1], r[2]) for r in rows), self._parsed)).arrow()
        with transaction(con):
            self.derive_facts(con, facts)
            catchup.set_derived(con, rows[-1][3])
        return caught_up + len(rows)

    # -- an ingest's batches ------------------------------------------------------------------------------------
    def flush(self, batch: Batch, report: IngestReport, *, own_transaction: bool, model_too: bool = True) -> None:
        """Store a prepared batch and its facts, and refresh the model unless ``model_too`` is false (the caller
        then runs ``catchup.catch_up_model``): in one transaction, its own or the caller's, or, for a bulk ingest
        (its own transactions, model deferred), in two side by side (``_flush_split``)."""
        report.rejected.extend(batch.rejected)
        existing = self.stored(batch.ids)
        report.duplicates += batch.duplicates + len(existing)
        if existing:
            batch = batch.without(existing)
        if not batch.ids:
            return
        try:
            if own_transaction and not model_too:
                self._flush_split(batch)
            else:
                self._flush_together(batch, own_transaction, model_too)
        except BaseException:
            self.forget()
            raise
        report.accepted += len(batch.ids)
        report.accepted_ids.extend(batch.ids)

    def _flush_together(self, batch: Batch, own_transaction: bool, model_too: bool) -> None:
        con = self.con
        with transaction(con) if own_transaction else nullcontext():
            seq0 = self.last_seq()
            self.insert_raw(batch.raw, batch.ids)
            if model_too:
                self.derive_facts(con, batch.facts)
                catchup.set_derived(con, seq0 + len(batch.ids))
            else:
                self.insert_facts(con, batch.facts)
                catchup.set_facts(con, seq0 + len(batch.ids))

    def _flush_split(self, batch: Batch) -> None:
        """Raw events and facts in two transactions on two connections at once (DuckDB works on both with the GIL
        released). The facts commit only once the raw events have: a crash in between leaves raw events ahead of
        ``facts_seq``, which ``derive_pending`` derives when the store is next opened for writing."""
        facts_con = self.facts()
        seq_end = self.last_seq() + len(batch.ids)
        raw_committed = threading.Event()
        raw_ok = False
        failed: list[BaseException] = []

        def store_facts() -> None:
            try:
                with transaction(facts_con):
                    self.insert_facts(facts_con, batch.facts)
                    raw_committed.wait()
                    if not raw_ok:
                        raise _RawRolledBack
                    catchup.set_facts(facts_con, seq_end)
            except BaseException as exc:  # handed to the writer's thread below
                failed.append(exc)

        facts = threading.Thread(target=store_facts, name="lineagelab-facts", daemon=True)
        facts.start()
        try:
            with transaction(self.con):
                self.insert_raw(batch.raw, batch.ids)
            raw_ok = True
        finally:
            raw_committed.set()
            facts.join()
        if failed and not isinstance(failed[0], _RawRolledBack):
            raise failed[0]

    # -- the tables ---------------------------------------------------------------------------------------------
    def insert_raw(self, table: pa.Table, ids: list[str]) -> None:
        """Append ``raw_table`` rows, numbering them after the last stored event."""
        seq0, n = self.last_seq(), table.num_rows
        if self._known is not None:
            self._known.update(hash(i) for i in ids)
        table = table.append_column("seq", pa.array(range(seq0 + 1, seq0 + 1 + n), pa.int64()))
        table = table.append_column("ingested_at", pa.array([datetime.now(UTC)] * n, pa.timestamp("us", tz="UTC")))
        _append(self.con, "raw_events", table)
        self._seq = seq0 + n  # a rolled-back transaction resets it (see forget)

    def insert_facts(self, con: duckdb.DuckDBPyConnection, facts: FactTables) -> None:
        tables = facts.tables
        for name in ("f_events", "f_datasets", "f_symlinks"):
            if name in tables:
                _append(con, name, tables[name])
        if "warnings" in tables:  # kept through rebuilds: written once, with the event's first facts
            _append(con, "event_warnings", tables["warnings"])
        if "uses" in tables and "facets" in tables:
            column_edges.insert(con, tables["facets"], tables.get("edges"), tables["uses"])
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

    def derive_facts(self, con: duckdb.DuckDBPyConnection, facts: FactTables) -> None:
        """Insert facts and refresh the model for what they touch."""
        self.insert_facts(con, facts)
        if facts.symlinks:
            model.refresh_aliases(con, facts.symlinks)
        model.refresh(con, facts.run_keys, facts.job_ids, facts.ds_ids)


def _append(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register("_batch", table)
    try:
        cols = ", ".join(table.column_names)
        con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _batch")
    finally:
        with suppress(duckdb.Error):
            con.unregister("_batch")
