"""Which runs make up "the graph": latest, cumulative, or as it was at a time.

One choice of runs feeds both the table-level and the column-level answer, so the two never disagree about which
version of a job they describe (Marquez mixes modes between its table and column endpoints; we don't).

* ``latest`` (default): each job as its most recent run with inputs or outputs shows it. A job that stopped writing a
  table no longer links to it: what a data engineer expects after changing a job.
* ``cumulative``: every edge any run ever showed. For audits ("did anything ever read this?").
* ``as-of T``: each job as its most recent run started at or before T, built only from events timed at or before T.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime

import duckdb

from lineagelab.events.identity import parse_time


@dataclass(frozen=True)
class Mode:
    kind: str = "latest"  # latest | cumulative | asof
    at: datetime | None = None

    @staticmethod
    def parse(mode: str = "latest", as_of: str | datetime | None = None) -> Mode:
        if as_of is not None:
            at = as_of if isinstance(as_of, datetime) else parse_time(as_of)
            return Mode("asof", at)
        if mode not in ("latest", "cumulative"):
            raise ValueError(f"unknown mode {mode!r}: use latest or cumulative (or --as-of TIME)")
        return Mode(mode)

    def __str__(self) -> str:
        return f"as-of {self.at.isoformat()}" if self.kind == "asof" and self.at else self.kind


_counter = itertools.count()


@contextmanager
def temporary(con: duckdb.DuckDBPyConnection, prefix: str, *tables: str) -> Iterator[str]:
    """A fresh name prefix for the temporary ``tables`` (``{name}_{table}``) the block creates on ``con``; they are
    dropped when it ends. Queries answered on long-lived connections (a server's, for days) would otherwise keep
    every one, a store's worth of rows each for a time late in its history."""
    name = f"{prefix}_{next(_counter)}"
    try:
        yield name
    finally:
        for table in tables:
            with suppress(duckdb.Error):  # never hide what ended the block
                con.execute(f"DROP TABLE IF EXISTS {name}_{table}")


@dataclass(frozen=True)
class Relations:
    """Names of the relations holding (job_id, ds_id, role) and the column edges for a mode."""

    io: str
    col: str


@contextmanager
def relations(con: duckdb.DuckDBPyConnection, mode: Mode) -> Iterator[Relations]:
    """The relations of ``mode`` for the block's queries (as of a time: temporary tables, see ``temporary``)."""
    if mode.kind == "latest":
        yield Relations("current_io", "current_col")
        return
    if mode.kind == "cumulative":
        yield Relations("all_io", "all_col")
        return
    assert mode.at is not None
    with temporary(con, "_asof", "runs", "io", "col") as name:
        runs, io, col = f"{name}_runs", f"{name}_io", f"{name}_col"
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {runs} AS
            WITH r AS (
                SELECT e.run_key, any_value(e.job_id) AS job_id,
                       coalesce(min(e.event_time) FILTER (WHERE e.event_type = 'START'), min(e.event_time)) AS started
                FROM f_events e WHERE e.event_time <= $1 AND e.run_key IS NOT NULL AND e.job_id IS NOT NULL
                GROUP BY e.run_key
            )
            SELECT job_id, arg_max(run_key, (started, run_key)) AS run_key FROM r
            WHERE run_key IN (SELECT run_key FROM f_datasets WHERE event_time <= $1 AND role IN ('input', 'output'))
            GROUP BY job_id
            """,
            [mode.at],
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {io} AS
            SELECT DISTINCT d.job_id, coalesce(a.canonical_id, d.ds_id) AS ds_id, d.role
            FROM f_datasets d JOIN {runs} r ON d.run_key = r.run_key LEFT JOIN aliases a ON a.member_id = d.ds_id
            WHERE d.event_time <= $1 AND d.role IN ('input', 'output')
            """,
            [mode.at],
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {col} AS
            SELECT DISTINCT c.job_id, coalesce(ao.canonical_id, c.out_ds) AS out_ds, c.out_field,
                   coalesce(ai.canonical_id, c.in_ds) AS in_ds, c.in_field, c.type, c.subtype, c.description, c.masking
            FROM f_column_edges c JOIN {runs} r ON c.run_key = r.run_key
            LEFT JOIN aliases ao ON ao.member_id = c.out_ds LEFT JOIN aliases ai ON ai.member_id = c.in_ds
            WHERE c.event_time <= $1
            """,
            [mode.at],
        )
        yield Relations(io, col)
