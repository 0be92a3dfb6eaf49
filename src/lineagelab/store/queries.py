"""The store's read side for lineage questions: the relations a mode's graph is made of, the steps a traversal takes
over them, and nodes by id or by name.

Only ``store/`` names the store's tables in SQL; ``graph/`` and ``server/`` ask through these functions (and
``queries_details``, ``queries_diff``, ``queries_bundle``, ``queries_dz``), which answer with rows or small records.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb

from lineagelab.events.identity import dataset_key_sql

NodeKind = Literal["dataset", "job"]
Role = Literal["input", "output"]
Side = Literal["in", "out"]  # which end of a column edge a query matches

#: A column edge as the store holds it: job_id, out_ds, out_field, in_ds, in_field, type, subtype, description,
#: masking (a NULL field is a dataset-wide dependency).
ColumnRow = tuple[int | None, int, str | None, int, str | None, str | None, str | None, str | None, bool | None]


class Record:
    """Fields also read by name, ``record["field"]``, as callers read these answers when they were dicts."""

    __slots__ = ()

    def __getitem__(self, name: str) -> object:
        return getattr(self, name)


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
    """Names of the relations holding a mode's (job_id, ds_id, role) rows and its column edges (``ColumnRow``)."""

    io: str
    col: str


#: Each job as its most recent run with inputs or outputs shows it (kept up to date by the model).
LATEST = Relations("current_io", "current_col")
#: Every edge any run showed (views over the facts).
CUMULATIVE = Relations("all_io", "all_col")


@contextmanager
def as_of(con: duckdb.DuckDBPyConnection, at: datetime) -> Iterator[Relations]:
    """Each job as its most recent run started at or before ``at`` showed it, from events timed at or before ``at``
    (temporary tables, see ``temporary``)."""
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
            [at],
        )
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {io} AS
            SELECT DISTINCT d.job_id, coalesce(a.canonical_id, d.ds_id) AS ds_id, d.role
            FROM f_datasets d JOIN {runs} r ON d.run_key = r.run_key LEFT JOIN aliases a ON a.member_id = d.ds_id
            WHERE d.event_time <= $1 AND d.role IN ('input', 'output')
            """,
            [at],
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
            [at],
        )
        yield Relations(io, col)


# -- table level ------------------------------------------------------------------------------------------------
def io_edges(con: duckdb.DuckDBPyConnection, rel: Relations, role: Role, kind: NodeKind,
             ids: list[int]) -> list[tuple[int, int]]:
    """(ds_id, job_id) of the ``role`` edges touching the datasets or jobs ``ids``."""
    key = "ds_id" if kind == "dataset" else "job_id"
    return [(int(d), int(j)) for d, j in con.execute(
        f"SELECT ds_id, job_id FROM {rel.io} WHERE role = '{role}' AND {key} IN (SELECT unnest($1::BIGINT[]))",
        [ids],
    ).fetchall()]


def all_io(con: duckdb.DuckDBPyConnection, rel: Relations) -> list[tuple[int, int, Role]]:
    """Every (ds_id, job_id, role) of the mode."""
    return con.execute(f"SELECT ds_id, job_id, role FROM {rel.io}").fetchall()


# -- column level -----------------------------------------------------------------------------------------------
_COLS = "job_id, out_ds, out_field, in_ds, in_field, type, subtype, description, masking"


def column_edges_between(con: duckdb.DuckDBPyConnection, rel: Relations, ds_ids: list[int]) -> list[ColumnRow]:
    """The column edges from and to the datasets ``ds_ids``, in one order whatever order DuckDB's joins produce."""
    return con.execute(
        f"""SELECT {_COLS} FROM {rel.col}
            WHERE out_ds IN (SELECT unnest($1::BIGINT[])) AND in_ds IN (SELECT unnest($1::BIGINT[]))
            ORDER BY ALL""",
        [ds_ids],
    ).fetchall()


def column_edges_of_fields(con: duckdb.DuckDBPyConnection, rel: Relations, side: Side,
                           fields: list[tuple[int, str]], row_level: bool) -> list[tuple[ColumnRow, str]]:
    """The column edges whose ``side`` end is one of the (ds_id, field) ``fields``, each with the field it matched;
    with ``row_level``, also the dataset-wide ones (``side`` field NULL) of those datasets."""
    null_ok = f" OR (c.{side}_field IS NULL AND c.{side}_ds = q.d)" if row_level else ""
    cols = ", ".join("c." + x.strip() for x in _COLS.split(","))
    return [(tuple(r[:9]), r[9]) for r in con.execute(  # type: ignore[misc]
        f"""SELECT DISTINCT {cols}, q.f FROM {rel.col} c
            JOIN (SELECT unnest($1::BIGINT[]) AS d, unnest($2::VARCHAR[]) AS f) q
              ON (c.{side}_ds = q.d AND c.{side}_field = q.f){null_ok}""",
        [[d for d, _ in fields], [f for _, f in fields]],
    ).fetchall()]


def column_edges_of_datasets(con: duckdb.DuckDBPyConnection, rel: Relations, side: Side,
                             ds_ids: list[int]) -> list[ColumnRow]:
    """The column edges whose ``side`` end is in one of the datasets ``ds_ids``."""
    return con.execute(
        f"SELECT {_COLS} FROM {rel.col} WHERE {side}_ds IN (SELECT unnest($1::BIGINT[]))", [ds_ids]
    ).fetchall()


# -- nodes ------------------------------------------------------------------------------------------------------
_NAMES = {"dataset": ("datasets", "ds_id"), "job": ("jobs", "job_id")}


def names(con: duckdb.DuckDBPyConnection, kind: NodeKind, ids: list[int]) -> list[tuple[int, str, str]]:
    """(id, namespace, name) of the datasets or jobs ``ids`` the store knows, by id."""
    table, key = _NAMES[kind]
    return con.execute(f"SELECT {key}, namespace, name FROM {table} WHERE {key} IN (SELECT unnest($1::BIGINT[])) "
                       f"ORDER BY {key}", [ids]).fetchall()


def name_of(con: duckdb.DuckDBPyConnection, kind: NodeKind, node_id: int) -> tuple[str, str] | None:
    """(namespace, name) of one dataset or job."""
    table, key = _NAMES[kind]
    rows = con.execute(f"SELECT namespace, name FROM {table} WHERE {key} = ?", [node_id]).fetchall()
    return (rows[0][0], rows[0][1]) if rows else None


def node_candidates(con: duckdb.DuckDBPyConnection, text: str) -> list[tuple[NodeKind, int, str, str, str, str]]:
    """Nodes whose identity contains ``text`` (lower case): (kind, id, namespace, name, matched namespace, matched
    name). A dataset is found under its symlinks' identities too, and aliases answer with their canonical node."""
    return con.execute(
        """
        WITH ids AS (
            SELECT ds_id AS id, namespace, name, namespace AS match_ns, name AS match_name FROM datasets
            UNION ALL
            SELECT DISTINCT s.ds_id, d.namespace, d.name, s.alias_namespace, s.alias_name
            FROM f_symlinks s JOIN datasets d ON d.ds_id = s.ds_id
        )
        SELECT 'dataset', coalesce(a.canonical_id, ids.id) AS id, coalesce(c.namespace, ids.namespace),
               coalesce(c.name, ids.name), match_ns, match_name
        FROM ids LEFT JOIN aliases a ON a.member_id = ids.id LEFT JOIN datasets c ON c.ds_id = a.canonical_id
        WHERE contains(lower(match_ns || '/' || match_name), $1) OR contains(lower(match_ns || ':' || match_name), $1)
        UNION ALL
        SELECT 'job', job_id, namespace, name, namespace, name FROM jobs
        WHERE contains(lower(namespace || '.' || name), $1)
        UNION ALL  -- a Glue table by the name users know it by: db.table (its ARN's name is table/db/table)
        SELECT 'dataset', coalesce(a.canonical_id, s.ds_id), coalesce(c.namespace, d.namespace),
               coalesce(c.name, d.name), s.alias_namespace, s.alias_name
        FROM (SELECT DISTINCT ds_id, alias_namespace, alias_name FROM f_symlinks
              WHERE starts_with(alias_namespace, 'arn:aws:glue:') AND starts_with(alias_name, 'table/')) s
        JOIN datasets d ON d.ds_id = s.ds_id
        LEFT JOIN aliases a ON a.member_id = s.ds_id LEFT JOIN datasets c ON c.ds_id = a.canonical_id
        WHERE contains(lower(replace(s.alias_name[7:], '/', '.')), $1)
        """,
        [text],
    ).fetchall()


def glue_tables(con: duckdb.DuckDBPyConnection, ds_ids: list[int]) -> dict[int, str]:
    """The Glue table name (``table/db/table``, from the Glue ARN symlinks) of each of the datasets ``ds_ids``
    that has one, found under the dataset or any identity folded into it."""
    return {int(i): str(n) for i, n in con.execute(
        """
        SELECT coalesce(a.canonical_id, s.ds_id) AS id, min(s.alias_name)
        FROM f_symlinks s LEFT JOIN aliases a ON a.member_id = s.ds_id
        WHERE starts_with(s.alias_namespace, 'arn:aws:glue:') AND starts_with(s.alias_name, 'table/')
          AND coalesce(a.canonical_id, s.ds_id) IN (SELECT unnest($1::BIGINT[]))
        GROUP BY ALL
        """,
        [ds_ids],
    ).fetchall()}


def dataset_columns(con: duckdb.DuckDBPyConnection, ds_id: int) -> list[str]:
    """Every column the dataset (or an identity folded into it) ever had: in a schema any event gave it, or at
    either end of a column edge. Sorted."""
    return [str(r[0]) for r in con.execute(
        """
        WITH m AS (SELECT $1::BIGINT AS id UNION SELECT member_id FROM aliases WHERE canonical_id = $1)
        SELECT name FROM schema_fields
        WHERE schema_hash IN (SELECT schema_hash FROM f_datasets WHERE ds_id IN (SELECT id FROM m))
        UNION SELECT out_field FROM f_column_edges WHERE out_ds IN (SELECT id FROM m) AND out_field IS NOT NULL
        UNION SELECT in_field FROM f_column_edges WHERE in_ds IN (SELECT id FROM m) AND in_field IS NOT NULL
        ORDER BY 1
        """,
        [ds_id],
    ).fetchall()]


def child_jobs(con: duckdb.DuckDBPyConnection, job_ids: list[int] | None) -> list[tuple[int, int]]:
    """(parent job, child job) for the jobs ``job_ids`` (None: every job) whose runs were the parents of other
    jobs' runs (a Spark application's job and its per-write jobs)."""
    which = "" if job_ids is None else "AND p.job_id IN (SELECT unnest($1::BIGINT[]))"
    return [(int(p), int(c)) for p, c in con.execute(
        f"""
        SELECT DISTINCT p.job_id, c.job_id FROM runs c JOIN runs p ON p.run_key = c.parent_run_id
        WHERE c.job_id IS NOT NULL AND p.job_id IS NOT NULL AND c.job_id <> p.job_id {which}
        ORDER BY ALL
        """,
        [] if job_ids is None else [job_ids],
    ).fetchall()]


def parent_jobs(con: duckdb.DuckDBPyConnection, job_ids: list[int]) -> dict[int, int]:
    """The parent job of each of the jobs ``job_ids`` that has one (its earliest run's parent's job)."""
    return {int(c): int(p) for c, p in con.execute(
        """
        SELECT c.job_id, arg_min(p.job_id, c.started_at) FROM runs c JOIN runs p ON p.run_key = c.parent_run_id
        WHERE c.job_id IN (SELECT unnest($1::BIGINT[])) AND p.job_id IS NOT NULL AND c.job_id <> p.job_id
        GROUP BY c.job_id
        """,
        [job_ids],
    ).fetchall()}


def search_nodes(con: duckdb.DuckDBPyConnection, text: str, limit: int) -> list[tuple[NodeKind, str, str, str, str]]:
    """(kind, id as text, namespace, name, key) of the datasets and jobs whose identity contains ``text`` (any
    case), shortest key first."""
    return con.execute(f"""
        SELECT * FROM (
            SELECT 'dataset' AS kind, ds_id::VARCHAR AS id, namespace, name,
                   {dataset_key_sql("namespace", "name")} AS key
            FROM datasets
            WHERE contains(lower(namespace || '/' || name), lower($1))
            UNION ALL
            SELECT 'job', job_id::VARCHAR, namespace, name, namespace || '.' || name FROM jobs
            WHERE contains(lower(namespace || '.' || name), lower($1))
        ) ORDER BY length(key), key LIMIT $2""", [text, limit]).fetchall()


def run_keys_like(con: duckdb.DuckDBPyConnection, text: str, limit: int) -> list[str]:
    """Run keys equal to ``text`` or starting with it, in order, at most ``limit``."""
    return [str(r[0]) for r in con.execute(
        "SELECT run_key FROM runs WHERE run_key = $1 OR starts_with(run_key, $1) ORDER BY run_key LIMIT $2",
        [text, limit]).fetchall()]


def raw_events_of_run(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """The raw events of a run, oldest first."""
    return [r[0] for r in con.execute(
        "SELECT raw FROM raw_events WHERE run_id = ? ORDER BY event_time, seq", [run_id]).fetchall()]
