"""The store's read side for the viewer's bundle: runs with their inputs, outputs and column edges, dataset
schemas, raw events, and the job/dataset neighbourhood a focused bundle walks out through.

``job_ids``/``run_keys`` of None ask for every run (with inputs or outputs).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

import duckdb

from lineagelab.store.queries import temporary

#: A run as the bundle lists it: run_key, run_id, job_id, state, started_at, ended_at, duration_ms, error_message.
RunRow = tuple[str, str | None, int | None, str | None, datetime | None, datetime | None, int | None, str | None]
#: A column edge of a run: run_key, out_ds, out_field, in_ds, in_field, type, subtype.
RunColumnRow = tuple[str, int, str | None, int, str | None, str | None, str | None]


def aliases(con: duckdb.DuckDBPyConnection) -> dict[int, int]:
    """Each dataset folded into another -> the one it is folded into."""
    return dict(con.execute("SELECT member_id, canonical_id FROM aliases").fetchall())


def runs_with_io_count(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("SELECT count(*) FROM runs WHERE has_io").fetchall()[0][0])


def runs_with_io(con: duckdb.DuckDBPyConnection, job_ids: list[int] | None) -> list[RunRow]:
    """The runs with inputs or outputs (of ``job_ids``), oldest first."""
    only = "" if job_ids is None else "AND job_id IN (SELECT unnest($1::BIGINT[]))"
    return con.execute(f"""
            SELECT run_key, run_id, job_id, state, started_at, ended_at, duration_ms, error_message
            FROM runs WHERE has_io {only} ORDER BY started_at, run_key""",
                       [] if job_ids is None else [job_ids]).fetchall()


def _of_runs(run_keys: list[str] | None) -> tuple[str, list[list[str]]]:
    if run_keys is None:
        return "", []
    return "WHERE run_key IN (SELECT unnest($1::VARCHAR[]))", [run_keys]


def run_io(con: duckdb.DuckDBPyConnection, run_keys: list[str] | None) -> list[tuple[str, int, str]]:
    """(run_key, ds_id, role) of the runs, in order."""
    where, params = _of_runs(run_keys)
    return con.execute(f"SELECT DISTINCT run_key, ds_id, role FROM run_io {where} ORDER BY ALL", params).fetchall()


def run_column_edges(con: duckdb.DuckDBPyConnection, run_keys: list[str] | None) -> list[RunColumnRow]:
    """The column edges the runs' events stated, in order."""
    where, params = _of_runs(run_keys)
    return con.execute(f"""
            SELECT DISTINCT run_key, out_ds, out_field, in_ds, in_field, type, subtype FROM f_column_edges {where}
            ORDER BY ALL""", params).fetchall()


def latest_fields(con: duckdb.DuckDBPyConnection, ds_ids: list[int]) -> list[tuple[int, str, str | None]]:
    """(ds_id, name, type) of each dataset's latest schema, in order, in one query (one per dataset cost seconds on
    large stores)."""
    return con.execute("""
            SELECT v.ds_id, f.name, f.type FROM (
                SELECT ds_id, schema_hash, created_at,
                       max(created_at) OVER (PARTITION BY ds_id) AS latest
                FROM dataset_versions
                WHERE schema_hash IS NOT NULL AND ds_id IN (SELECT unnest($1::BIGINT[]))) v
            JOIN schema_fields f USING (schema_hash)
            WHERE v.created_at = v.latest
            ORDER BY v.ds_id, f.ordinal""", [ds_ids]).fetchall()


def raw_events_of_runs(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> list[tuple[str, str]]:
    """(run_id, raw event) of the runs, newest first."""
    return con.execute("""
            SELECT run_id, raw FROM raw_events WHERE run_id IN (SELECT unnest($1::VARCHAR[]))
            ORDER BY event_time DESC, seq DESC""", [run_ids]).fetchall()


# -- the neighbourhood of a focus ---------------------------------------------------------------------------------
PairSide = Literal["job", "ds"]


@contextmanager
def job_dataset_pairs(con: duckdb.DuckDBPyConnection) -> Iterator[str]:
    """A temporary table (its name yielded) of which jobs touch which datasets (runs with inputs or outputs; aliases
    folded), ids as text, so that a walk near a node reads only its part of the store."""
    with temporary(con, "_hood", "pairs") as name:
        con.execute(f"""
            CREATE TEMP TABLE {name}_pairs AS
            SELECT DISTINCT r.job_id::VARCHAR AS job, coalesce(a.canonical_id, io.ds_id)::VARCHAR AS ds
            FROM run_io io JOIN runs r USING (run_key) LEFT JOIN aliases a ON a.member_id = io.ds_id
            WHERE r.has_io AND r.job_id IS NOT NULL""")
        yield f"{name}_pairs"


def busiest_dataset(con: duckdb.DuckDBPyConnection, pairs: str) -> int | None:
    """The dataset the most jobs touch."""
    rows = con.execute(f"SELECT ds FROM {pairs} GROUP BY ds ORDER BY count(*) DESC, ds::BIGINT LIMIT 1").fetchall()
    return int(rows[0][0]) if rows else None


def other_side(con: duckdb.DuckDBPyConnection, pairs: str, side: PairSide, ids: list[str]) -> list[str]:
    """The ``side`` of the pairs whose other side is in ``ids``, sorted."""
    other = "ds" if side == "job" else "job"
    return sorted(r[0] for r in con.execute(
        f"SELECT DISTINCT {side} FROM {pairs} WHERE {other} IN (SELECT unnest($1::VARCHAR[]))", [ids]).fetchall())


def job_runs_with_io(con: duckdb.DuckDBPyConnection, job_ids: list[int]) -> list[tuple[int, int, datetime | None]]:
    """(job_id, runs with inputs or outputs, latest start) of the jobs."""
    return con.execute("SELECT job_id, count(*), max(started_at) FROM runs WHERE has_io AND job_id IN "
                       "(SELECT unnest($1::BIGINT[])) GROUP BY job_id", [job_ids]).fetchall()
