"""How far the derived model reflects the raw events, and bringing it up to date.

Two watermarks in ``meta``: ``facts_seq``, the raw event up to which facts are stored, and ``derived_seq``, the one
up to which the model is refreshed. They part only while a bulk ingest defers the model (the refresh scans the fact
tables, so it costs about as much for a few hundred events as for tens of thousands); a store an interrupted ingest
left between them catches up the same way when next opened, as the keys to refresh are read back from the facts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import duckdb

from lineagelab.store import model
from lineagelab.store.sqlutil import scalar, transaction


def newest_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The newest raw event's sequence number (0: none)."""
    return int(scalar(con, "SELECT coalesce(max(seq), 0) FROM raw_events"))


def derived_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The sequence number up to which the model reflects the raw events."""
    return int(scalar(con, "SELECT value FROM meta WHERE key = 'derived_seq'") or 0)


def facts_seq(con: duckdb.DuckDBPyConnection) -> int:
    """Up to where the facts reflect the raw events: beyond ``derived_seq`` while a bulk ingest defers the model."""
    value = scalar(con, "SELECT value FROM meta WHERE key = 'facts_seq'")
    return int(value) if value is not None else derived_seq(con)


def set_derived(con: duckdb.DuckDBPyConnection, seq: int) -> None:
    """Facts and model reflect the raw events up to ``seq``."""
    con.execute("INSERT OR REPLACE INTO meta VALUES ('derived_seq', ?), ('facts_seq', ?)", [str(seq), str(seq)])


def set_facts(con: duckdb.DuckDBPyConnection, seq: int) -> None:
    """Facts reflect the raw events up to ``seq``; the model may lag (``catch_up_model``)."""
    con.execute("INSERT OR REPLACE INTO meta VALUES ('facts_seq', ?)", [str(seq)])


def catch_up_model(con: duckdb.DuckDBPyConnection, side: duckdb.DuckDBPyConnection | None = None) -> int:
    """Refresh the model for the events whose facts are stored but not yet reflected in it; return how many.
    ``side``: another connection, not in a transaction, on which half of a first derivation runs meanwhile."""
    lo, hi = derived_seq(con), facts_seq(con)
    if hi <= lo:
        return 0
    if lo == 0:  # nothing derived yet: the model is empty and every fact is fresh
        if side is None:
            model.refresh_all(con)
        else:
            _on_side(side, model.refresh_all_datasets, lambda: model.refresh_all_jobs(con))
        set_derived(con, hi)
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
    set_derived(con, hi)
    return hi - lo


def _on_side(side: duckdb.DuckDBPyConnection, work: Callable[[duckdb.DuckDBPyConnection], None],
             meanwhile: Callable[[], None]) -> None:
    """``work(side)`` committed in a transaction of its own on another thread while this one runs ``meanwhile``
    (DuckDB releases the GIL: the two use two cores); errors of either are raised here. A failure after ``work``
    committed leaves its tables ahead of the caller's record, so ``work`` must be redone whole (``refresh_all``)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            with transaction(side):
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
