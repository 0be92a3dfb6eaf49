"""Compare the lineage graph at two times, or what two runs did: the historical comparison the seed promises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from lineagelab.events.identity import dataset_key_sql
from lineagelab.graph.modes import Mode, relations, temporary

CATEGORIES = ("datasets", "jobs", "edges", "columns", "column-edges")
FAIL_ON = (*(f"{c}-{k}" for c in ("added", "removed") for k in CATEGORIES), "schema-changes", "any")


@dataclass(frozen=True)
class GraphState:
    """One side of a diff: its named rows in temporary tables of the connection (``{prefix}_io``: job, ds, role;
    ``_ce``: column edges src, dst, kind; ``_c``: columns col, type), so that only the differences reach Python (on
    a store of 1.7M column edges, holding both sides as Python sets took 12 s and 2.8 GB for a ten-minute diff)."""

    label: str
    prefix: str


def _key(alias: str, id_col: str) -> str:
    """A dataset's key (``dataset_key``) in SQL, its id where the store does not name it."""
    return f"coalesce({dataset_key_sql(f'{alias}.namespace', f'{alias}.name')}, CAST({id_col} AS VARCHAR))"


@contextmanager
def _state(con: duckdb.DuckDBPyConnection, label: str, io: str, col: str, schema: str,
           params: tuple[list[Any], list[Any], list[Any]]) -> Iterator[GraphState]:
    """Name the rows of ``io`` (job_id, ds_id, role), ``col`` (out_ds, out_field, in_ds, in_field, type, subtype)
    and ``schema`` (ds_id, name, type), each query with its ``params``, into temporary tables dropped when the block
    ends."""
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
        yield GraphState(label, p)


_SCHEMA_AT = """
    WITH v AS (
        SELECT coalesce(a.canonical_id, dv.ds_id) AS ds_id, arg_max(dv.schema_hash, dv.created_at) AS sh
        FROM dataset_versions dv LEFT JOIN aliases a ON a.member_id = dv.ds_id
        WHERE dv.schema_hash IS NOT NULL AND dv.created_at <= $1 GROUP BY 1
    )
    SELECT v.ds_id, f.name, f.type FROM v JOIN schema_fields f ON f.schema_hash = v.sh
"""


@contextmanager
def state_at(con: duckdb.DuckDBPyConnection, mode: Mode) -> Iterator[GraphState]:
    """The graph of ``mode`` (as of a time, for a diff of two times)."""
    at: datetime | str = mode.at if mode.kind == "asof" and mode.at else "infinity"
    with relations(con, mode) as rel, _state(
            con, str(mode), f"SELECT job_id, ds_id, role FROM {rel.io}",
            f"SELECT out_ds, out_field, in_ds, in_field, type, subtype FROM {rel.col}", _SCHEMA_AT,
            ([], [], [at])) as state:
        yield state


class RunNotFound(LookupError):
    pass


def resolve_run(con: duckdb.DuckDBPyConnection, text: str) -> str:
    rows = [r[0] for r in con.execute(
        "SELECT run_key FROM runs WHERE run_key = $1 OR starts_with(run_key, $1) ORDER BY run_key LIMIT 11", [text]
    ).fetchall()]
    if text in rows:
        return text
    if len(rows) == 1:
        return str(rows[0])
    if not rows:
        raise RunNotFound(f"no run with id {text!r}")
    raise RunNotFound(f"run id prefix {text!r} matches several runs: {', '.join(rows[:10])}")


@contextmanager
def state_of_run(con: duckdb.DuckDBPyConnection, run_key: str) -> Iterator[GraphState]:
    """What one run read and wrote, and its columns."""
    with _state(
        con, f"run {run_key}",
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
    ) as state:
        yield state


def _edge_text(e: tuple[str, ...]) -> str:
    return f"{e[0]} -> {e[1]}" + (f" [{e[2]}]" if len(e) > 2 else "")


def diff(con: duckdb.DuckDBPyConnection, a: GraphState, b: GraphState) -> dict[str, Any]:
    """What ``b`` has that ``a`` has not (added) and the reverse (removed), each list sorted."""

    def sets(query: str, fmt: Any = None) -> dict[str, list[str]]:
        def minus(x: GraphState, y: GraphState) -> list[str]:
            rows = con.execute(f"{query.format(p=y.prefix)} EXCEPT {query.format(p=x.prefix)}").fetchall()
            return sorted(fmt(r) if fmt else r[0] for r in rows)

        return {"added": minus(a, b), "removed": minus(b, a)}

    changes = [{"column": c, "from": t1, "to": t2} for c, t1, t2 in sorted(con.execute(
        f"""SELECT x.col, x.type, y.type FROM {a.prefix}_c x JOIN {b.prefix}_c y USING (col)
            WHERE x.type IS DISTINCT FROM y.type""").fetchall())]
    return {
        "from": a.label,
        "to": b.label,
        "datasets": sets("SELECT ds FROM {p}_io"),
        "jobs": sets("SELECT job FROM {p}_io"),
        "edges": sets("SELECT CASE role WHEN 'input' THEN ds ELSE job END, "
                      "CASE role WHEN 'input' THEN job ELSE ds END FROM {p}_io", _edge_text),
        "columns": sets("SELECT col FROM {p}_c"),
        "column-edges": sets("SELECT src, dst, kind FROM {p}_ce", _edge_text),
        "schema-changes": changes,
    }


def compare_times(con: duckdb.DuckDBPyConnection, t1: datetime, t2: datetime) -> dict[str, Any]:
    with state_at(con, Mode("asof", t1)) as a, state_at(con, Mode("asof", t2)) as b:
        return diff(con, a, b)


def compare_runs(con: duckdb.DuckDBPyConnection, run1: str, run2: str) -> dict[str, Any]:
    """Run ids may be unique prefixes (``RunNotFound`` otherwise)."""
    with state_of_run(con, resolve_run(con, run1)) as a, state_of_run(con, resolve_run(con, run2)) as b:
        return diff(con, a, b)


def violations(result: dict[str, Any], fail_on: list[str]) -> list[str]:
    """Which of the requested ``--fail-on`` conditions the diff meets."""
    hit = []
    for cond in fail_on:
        if cond not in FAIL_ON:
            raise ValueError(f"unknown --fail-on condition {cond!r}; choose from {', '.join(FAIL_ON)}")
        if cond == "schema-changes":
            if result["schema-changes"]:
                hit.append(cond)
        elif cond == "any":
            if result["schema-changes"] or any(result[c]["added"] or result[c]["removed"] for c in CATEGORIES):
                hit.append(cond)
        else:
            side, cat = cond.split("-", 1)
            if result[cat][side]:
                hit.append(cond)
    return hit
