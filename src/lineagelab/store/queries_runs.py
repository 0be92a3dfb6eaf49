"""The store's read side for runs: which runs there were (of which jobs, when, in which state), what each read and
wrote, and a job's runs newest first (``diff --runs JOB@latest``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from lineagelab.events.identity import dataset_key_sql
from lineagelab.store.queries import Record
from lineagelab.store.sqlutil import filters

#: Run states as the store records them (a run with no terminal event yet: RUNNING; no START either: OTHER).
STATES = ("COMPLETE", "FAIL", "ABORT", "RUNNING", "OTHER")


@dataclass(frozen=True, slots=True)
class RunSummary(Record):
    """One run: its id, its job's key, state, times, and the keys of what it read and wrote."""

    run_key: str
    job: str | None
    state: str
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    error: str | None
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def list_runs(con: duckdb.DuckDBPyConnection, job_ids: list[int] | None = None, since: datetime | None = None,
              until: datetime | None = None, state: str | None = None, limit: int = 50) -> list[RunSummary]:
    """The newest ``limit`` runs (of the jobs ``job_ids``; started at or after ``since``, at or before ``until``;
    in ``state``), newest first. JobEvents (static lineage, no run) are not runs."""
    where, params = filters(("r.job_id IN (SELECT unnest(?::BIGINT[]))", job_ids), ("r.started_at >= ?", since),
                            ("r.started_at <= ?", until), ("r.state = ?", state), always=["r.run_id IS NOT NULL"])
    rows = con.execute(f"""
        WITH sel AS (
            SELECT r.run_key, r.job_id, r.state, r.started_at, r.ended_at, r.duration_ms, r.error_message
            FROM runs r WHERE {where}
            ORDER BY r.started_at DESC NULLS LAST, r.run_key LIMIT ?
        ),
        io AS (
            SELECT DISTINCT io.run_key, io.role, {dataset_key_sql('d.namespace', 'd.name')} AS ds
            FROM run_io io JOIN sel USING (run_key)
            LEFT JOIN aliases a ON a.member_id = io.ds_id
            JOIN datasets d ON d.ds_id = coalesce(a.canonical_id, io.ds_id)
        )
        SELECT sel.run_key, j.namespace || '.' || j.name, sel.state, sel.started_at, sel.ended_at, sel.duration_ms,
               sel.error_message,
               coalesce(list_sort(list(io.ds) FILTER (WHERE io.role = 'input')), []),
               coalesce(list_sort(list(io.ds) FILTER (WHERE io.role = 'output')), [])
        FROM sel LEFT JOIN jobs j ON j.job_id = sel.job_id LEFT JOIN io USING (run_key)
        GROUP BY ALL ORDER BY sel.started_at DESC NULLS LAST, sel.run_key""", [*params, limit]).fetchall()
    return [RunSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6], tuple(r[7]), tuple(r[8])) for r in rows]


def runs_with_io_newest(con: duckdb.DuckDBPyConnection, job_ids: list[int], limit: int) -> list[str]:
    """The run keys of the jobs' runs that read or wrote something, newest first."""
    return [str(r[0]) for r in con.execute("""
        SELECT run_key FROM runs WHERE has_io AND job_id IN (SELECT unnest($1::BIGINT[]))
        ORDER BY started_at DESC NULLS LAST, run_key DESC LIMIT $2""", [job_ids, limit]).fetchall()]


def describe_runs(con: duckdb.DuckDBPyConnection, run_keys: list[str]) -> list[tuple[str, str | None, datetime | None]]:
    """(run key, job key, start) of the runs, by run key: how an ambiguous run id lists its candidates."""
    return con.execute("""
        SELECT r.run_key, j.namespace || '.' || j.name, r.started_at
        FROM runs r LEFT JOIN jobs j USING (job_id) WHERE r.run_key IN (SELECT unnest($1::VARCHAR[]))
        ORDER BY r.run_key""", [run_keys]).fetchall()
