"""The store's read side for what one node is: a dataset's versions, schema, symlinks and runs, a job's runs and
versions. Each query answers for many nodes at once (an export asks for thousands), grouped by node.

A dataset is asked for with its members: itself and every identity folded into it (``Members``), so that its
history under any of its names is its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import duckdb

from lineagelab.store.queries import Record

#: (node, ds_id) pairs as two parallel lists: each node asked about, and each dataset whose rows are that node's.
Members = tuple[list[int], list[int]]

#: The members as a relation (node, ds_id).
_MEMBERS = """(SELECT unnest($1::BIGINT[]) AS node, unnest($2::BIGINT[]) AS ds_id)"""


@dataclass(frozen=True, slots=True)
class SchemaField(Record):
    name: str
    type: str | None
    description: str | None


@dataclass(frozen=True, slots=True)
class Symlink(Record):
    namespace: str
    name: str
    type: str | None


@dataclass(frozen=True, slots=True)
class DatasetVersion(Record):
    version_id: str
    created_at: datetime | None
    reason: str
    run_id: str | None  # the run's key
    row_count: int | None
    schema_hash: str | None


@dataclass(frozen=True, slots=True)
class DatasetRun(Record):
    """A run that read or wrote a dataset (``role``)."""

    run_id: str
    job: str | None
    role: str
    state: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class JobRun(Record):
    run_id: str
    state: str | None
    started_at: datetime | None
    ended_at: datetime | None
    duration_ms: int | None
    parent_run_id: str | None
    error_message: str | None
    io_hash: str | None


@dataclass(frozen=True, slots=True)
class JobVersion(Record):
    """A job's version: the inputs and outputs its runs had (their hash)."""

    version: str
    first_seen: datetime | None
    last_seen: datetime | None
    run_count: int | None


R = TypeVar("R")


def _by_node(rows: list[tuple[Any, ...]], make: type[R]) -> dict[int, list[R]]:
    """Rows whose first column is the node, grouped by it (the rest made into ``make``)."""
    out: dict[int, list[R]] = {}
    for r in rows:
        out.setdefault(int(r[0]), []).append(make(*r[1:]))
    return out


def members(con: duckdb.DuckDBPyConnection, ids: list[int]) -> Members:
    """Each dataset with itself and the identities folded into it, each pair once (a pair listed twice would repeat
    its rows)."""
    pairs = list(dict.fromkeys([(i, i) for i in ids] + [(int(c), int(m)) for c, m in con.execute(
        "SELECT canonical_id, member_id FROM aliases WHERE canonical_id IN (SELECT unnest($1::BIGINT[]))",
        [ids]).fetchall()]))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def dataset_versions(con: duckdb.DuckDBPyConnection, m: Members) -> dict[int, list[DatasetVersion]]:
    """Each node's versions, oldest first."""
    return _by_node(con.execute(f"""
        SELECT m.node, v.version_id, v.created_at, v.reason, v.run_key AS run_id, v.row_count, v.schema_hash
        FROM dataset_versions v JOIN {_MEMBERS} m USING (ds_id) ORDER BY m.node, v.created_at, v.version_id""",
                                list(m)).fetchall(), DatasetVersion)


def schema_fields(con: duckdb.DuckDBPyConnection, hashes: list[str]) -> dict[str, list[SchemaField]]:
    """The fields of each schema, in order."""
    out: dict[str, list[SchemaField]] = {}
    for h, name, typ, desc in con.execute("""
            SELECT schema_hash, name, type, description FROM schema_fields
            WHERE schema_hash IN (SELECT unnest($1::VARCHAR[])) ORDER BY schema_hash, ordinal""", [hashes]).fetchall():
        out.setdefault(h, []).append(SchemaField(name, typ, desc))
    return out


def dataset_symlinks(con: duckdb.DuckDBPyConnection, m: Members) -> dict[int, list[Symlink]]:
    """The identities each node's events gave it besides its own."""
    return _by_node(con.execute(f"""
        SELECT DISTINCT m.node, s.alias_namespace AS namespace, s.alias_name AS name, s.type
        FROM f_symlinks s JOIN {_MEMBERS} m USING (ds_id) ORDER BY ALL""", list(m)).fetchall(), Symlink)


def dataset_runs(con: duckdb.DuckDBPyConnection, m: Members, limit: int) -> dict[int, list[DatasetRun]]:
    """The newest ``limit`` runs reading or writing each node, newest first."""
    return _by_node(con.execute(f"""
        SELECT * EXCLUDE (n) FROM (
            SELECT m.node, r.run_key AS run_id, j.namespace || '.' || j.name AS job, io.role, r.state, r.started_at,
                   r.ended_at, r.duration_ms,
                   row_number() OVER (PARTITION BY m.node ORDER BY r.started_at DESC, r.run_key, io.role) AS n
            FROM run_io io JOIN {_MEMBERS} m USING (ds_id) JOIN runs r USING (run_key)
            LEFT JOIN jobs j ON j.job_id = r.job_id)
        WHERE n <= {int(limit)} ORDER BY node, n""", list(m)).fetchall(), DatasetRun)


def latest_dataset_events(con: duckdb.DuckDBPyConnection, m: Members) -> list[tuple[int, str, str, str]]:
    """(node, raw event, namespace, name): the newest event naming each node (but as a symlink), and the identity
    it named it by."""
    return con.execute(f"""
        SELECT x.node, r.raw, x.namespace, x.name FROM (
            SELECT m.node, d.event_id, d.namespace, d.name,
                   row_number() OVER (PARTITION BY m.node ORDER BY d.event_time DESC, d.event_id) AS n
            FROM f_datasets d JOIN {_MEMBERS} m USING (ds_id) WHERE d.role <> 'ref') x
        JOIN raw_events r USING (event_id) WHERE x.n = 1""", list(m)).fetchall()


def job_runs(con: duckdb.DuckDBPyConnection, ids: list[int], limit: int) -> dict[int, list[JobRun]]:
    """The newest ``limit`` runs of each job, newest first."""
    return _by_node(con.execute(f"""
        SELECT * EXCLUDE (n) FROM (
            SELECT job_id AS node, run_key AS run_id, state, started_at, ended_at, duration_ms, parent_run_id,
                   error_message, io_hash,
                   row_number() OVER (PARTITION BY job_id ORDER BY started_at DESC, run_key) AS n
            FROM runs WHERE job_id IN (SELECT unnest($1::BIGINT[])))
        WHERE n <= {int(limit)} ORDER BY node, n""", [ids]).fetchall(), JobRun)


def job_versions(con: duckdb.DuckDBPyConnection, ids: list[int]) -> dict[int, list[JobVersion]]:
    """Each job's versions, oldest first."""
    return _by_node(con.execute("""
        SELECT job_id AS node, io_hash AS version, first_seen, last_seen, run_count FROM job_versions
        WHERE job_id IN (SELECT unnest($1::BIGINT[])) ORDER BY job_id, first_seen, io_hash""", [ids]).fetchall(),
        JobVersion)


def latest_job_facets(con: duckdb.DuckDBPyConnection, ids: list[int]) -> list[tuple[int, str]]:
    """(job, its facets as JSON text): from the newest event (a run's or a JobEvent: a job's facets need no run)
    giving each job any."""
    return con.execute("""
        SELECT node, facets FROM (
            SELECT f.job_id AS node, json_extract(r.raw, '$.job.facets')::VARCHAR AS facets,
                   row_number() OVER (PARTITION BY f.job_id ORDER BY f.event_time DESC, f.event_id) AS n
            FROM f_events f JOIN raw_events r USING (event_id)
            WHERE f.job_id IN (SELECT unnest($1::BIGINT[]))
              AND json_type(r.raw, '$.job.facets') = 'OBJECT' AND json_extract(r.raw, '$.job.facets')::VARCHAR <> '{}')
        WHERE n = 1""", [ids]).fetchall()
