"""The store's read side for diffs: one side of a comparison (the graph of a mode, or what one run did) as named
rows in temporary tables of the connection, and what one side has that the other has not.

The rows stay in DuckDB so that only the differences reach Python (both sides as Python sets take gigabytes on
large stores). A side's tables, under its prefix ``p``:
``{p}_io`` (job, ds, role), ``{p}_ce`` (column edges src, dst, kind) and ``{p}_c`` (columns col, type), every node
named by its key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Literal

import duckdb

from lineagelab.events.identity import dataset_key_sql
from lineagelab.store.queries import Relations, temporary

Part = Literal["datasets", "jobs", "edges", "columns", "column-edges"]

#: Each part of a side, as rows one side has and the other may not.
_PARTS: dict[Part, str] = {
    "datasets": "SELECT ds FROM {p}_io",
    "jobs": "SELECT job FROM {p}_io",
    "edges": "SELECT CASE role WHEN 'input' THEN ds ELSE job END, CASE role WHEN 'input' THEN job ELSE ds END "
             "FROM {p}_io",
    "columns": "SELECT col FROM {p}_c",
    "column-edges": "SELECT src, dst, kind FROM {p}_ce",
}


def _key(alias: str, id_col: str) -> str:
    """A dataset's key (``dataset_key``) in SQL, its id where the store does not name it."""
    return f"coalesce({dataset_key_sql(f'{alias}.namespace', f'{alias}.name')}, CAST({id_col} AS VARCHAR))"


@contextmanager
def _side(con: duckdb.DuckDBPyConnection, io: str, col: str, schema: str,
          params: tuple[list[object], list[object], list[object]]) -> Iterator[str]:
    """Name the rows of ``io`` (job_id, ds_id, role), ``col`` (out_ds, out_field, in_ds, in_field, type, subtype)
    and ``schema`` (ds_id, name, type), each query with its ``params``, into temporary tables dropped when the block
    ends; yield their prefix."""
    with temporary(con, "_diff", "io", "ce", "c") as p:
        con.execute(f"""
            CREATE TEMP TABLE {p}_io AS
            SELECT DISTINCT coalesce(j.namespace || '.' || j.name, CAST(io.job_id AS VARCHAR)) AS job,
                   {_key("d", "io.ds_id")} AS ds, io.role
            FROM ({io}) io LEFT JOIN jobs j ON j.job_id = io.job_id LEFT JOIN datasets d ON d.ds_id = io.ds_id""",
                    params[0])
        con.execute(f"""
            CREATE TEMP TABLE {p}_ce AS
            SELECT DISTINCT {_key("i", "c.in_ds")} || '::' || coalesce(c.in_field, '*') AS src,
                   {_key("o", "c.out_ds")} || '::' || coalesce(c.out_field, '*') AS dst,
                   coalesce(c.type, 'None') || '/' || coalesce(c.subtype, 'None') AS kind
            FROM ({col}) c LEFT JOIN datasets i ON i.ds_id = c.in_ds LEFT JOIN datasets o ON o.ds_id = c.out_ds""",
                    params[1])
        con.execute(f"""
            CREATE TEMP TABLE {p}_c AS
            SELECT {_key("d", "s.ds_id")} || '::' || s.name AS col, min(s.type) AS type
            FROM ({schema}) s LEFT JOIN datasets d ON d.ds_id = s.ds_id
            WHERE {_key("d", "s.ds_id")} IN (SELECT ds FROM {p}_io)
            GROUP BY 1""", params[2])
        yield p


_SCHEMA_AT = """
    WITH v AS (
        SELECT coalesce(a.canonical_id, dv.ds_id) AS ds_id, arg_max(dv.schema_hash, dv.created_at) AS sh
        FROM dataset_versions dv LEFT JOIN aliases a ON a.member_id = dv.ds_id
        WHERE dv.schema_hash IS NOT NULL AND dv.created_at <= $1 GROUP BY 1
    )
    SELECT v.ds_id, f.name, f.type FROM v JOIN schema_fields f ON f.schema_hash = v.sh
"""


@contextmanager
def graph_side(con: duckdb.DuckDBPyConnection, rel: Relations, at: datetime | str) -> Iterator[str]:
    """A mode's graph (``rel``), with each dataset's schema as of ``at`` (``"infinity"``: its latest)."""
    with _side(con, f"SELECT job_id, ds_id, role FROM {rel.io}",
               f"SELECT out_ds, out_field, in_ds, in_field, type, subtype FROM {rel.col}", _SCHEMA_AT,
               ([], [], [at])) as p:
        yield p


@contextmanager
def run_side(con: duckdb.DuckDBPyConnection, run_key: str) -> Iterator[str]:
    """What one run read and wrote, and its columns."""
    with _side(
        con,
        """SELECT io.job_id, coalesce(a.canonical_id, io.ds_id) AS ds_id, io.role FROM run_io io
           LEFT JOIN aliases a ON a.member_id = io.ds_id WHERE run_key = $1""",
        """SELECT coalesce(ao.canonical_id, c.out_ds) AS out_ds, c.out_field,
                  coalesce(ai.canonical_id, c.in_ds) AS in_ds, c.in_field, c.type, c.subtype
           FROM f_column_edges c LEFT JOIN aliases ao ON ao.member_id = c.out_ds
           LEFT JOIN aliases ai ON ai.member_id = c.in_ds WHERE c.run_key = $1""",
        """WITH v AS (
               SELECT coalesce(a.canonical_id, d.ds_id) AS ds_id,
                      arg_max(d.schema_hash, (d.event_time, d.event_id)) AS sh
               FROM f_datasets d LEFT JOIN aliases a ON a.member_id = d.ds_id
               WHERE d.run_key = $1 AND d.schema_hash IS NOT NULL GROUP BY 1)
           SELECT v.ds_id, f.name, f.type FROM v JOIN schema_fields f ON f.schema_hash = v.sh""",
        ([run_key], [run_key], [run_key]),
    ) as p:
        yield p


def only_in(con: duckdb.DuckDBPyConnection, part: Part, side: str, other: str) -> list[tuple[str, ...]]:
    """The rows of ``part`` the side ``side`` has and ``other`` has not."""
    query = _PARTS[part]
    return con.execute(f"{query.format(p=side)} EXCEPT {query.format(p=other)}").fetchall()


def type_changes(con: duckdb.DuckDBPyConnection, a: str, b: str) -> list[tuple[str, str | None, str | None]]:
    """(column, type in ``a``, type in ``b``) of the columns both sides have with different types."""
    return con.execute(f"""SELECT x.col, x.type, y.type FROM {a}_c x JOIN {b}_c y USING (col)
                           WHERE x.type IS DISTINCT FROM y.type""").fetchall()
