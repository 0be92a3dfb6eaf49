"""Deriving the facts and the model again from the raw events (``lineagelab store rebuild``, and migrations)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

from lineagelab.ingest.parallel import Pool, default_workers
from lineagelab.ingest.prepare import FactTables, facts_of_rows
from lineagelab.store import catchup, model, schema
from lineagelab.store.sqlutil import scalar
from lineagelab.store.writer import no_cyclic_gc
from lineagelab.store.writes import BATCH_SIZE, Writes

_PARALLEL_REBUILD = 20_000  # stores at least this large are rebuilt with worker processes


def rebuild(writes: Writes, progress: Callable[[int], None] | None = None) -> None:
    """Drop the derived tables and derive them again, in the caller's transaction on ``writes.con``; ``progress``
    is told how many events each step derived."""
    with no_cyclic_gc():
        _rebuild(writes, progress)


def _rebuild(writes: Writes, progress: Callable[[int], None] | None) -> None:
    con = writes.con
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
            writes.insert_facts(con, facts)
            if progress and "f_events" in facts.tables:
                progress(facts.tables["f_events"].num_rows)  # one row an event
    reader.close()
    model.refresh_all(con)
    catchup.set_derived(con, catchup.newest_seq(con))
