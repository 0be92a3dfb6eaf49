"""Compare the lineage graph at two times, or what two runs did: the historical comparison the seed promises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb

from lineagelab.events.identity import dataset_key, job_key
from lineagelab.graph.modes import Mode, relations

CATEGORIES = ("datasets", "jobs", "edges", "columns", "column-edges")
FAIL_ON = (*(f"{c}-{k}" for c in ("added", "removed") for k in CATEGORIES), "schema-changes", "any")


@dataclass
class GraphState:
    label: str
    datasets: set[str] = field(default_factory=set)
    jobs: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)
    columns: dict[str, str | None] = field(default_factory=dict)  # "ds::col" -> type
    column_edges: set[tuple[str, str, str]] = field(default_factory=set)  # (src, dst, TYPE/SUBTYPE)


def _names(con: duckdb.DuckDBPyConnection) -> tuple[dict[int, str], dict[int, str]]:
    ds = {r[0]: dataset_key(r[1], r[2]) for r in con.execute("SELECT ds_id, namespace, name FROM datasets").fetchall()}
    jobs = {r[0]: job_key(r[1], r[2]) for r in con.execute("SELECT job_id, namespace, name FROM jobs").fetchall()}
    return ds, jobs


def _fill(state: GraphState, con: duckdb.DuckDBPyConnection, io_rows: list[tuple[Any, ...]],
          col_rows: list[tuple[Any, ...]], schema_rows: list[tuple[Any, ...]]) -> GraphState:
    ds_names, job_names = _names(con)

    def dsn(i: int) -> str:
        return ds_names.get(i, str(i))

    for job_id, ds_id, role in io_rows:
        j, d = job_names.get(job_id, str(job_id)), dsn(ds_id)
        state.jobs.add(j)
        state.datasets.add(d)
        state.edges.add((d, j) if role == "input" else (j, d))
    for out_ds, out_field, in_ds, in_field, typ, subtype in col_rows:
        src = f"{dsn(in_ds)}::{in_field if in_field is not None else '*'}"
        dst = f"{dsn(out_ds)}::{out_field if out_field is not None else '*'}"
        state.column_edges.add((src, dst, f"{typ}/{subtype}"))
    for ds_id, name, typ in schema_rows:
        if dsn(ds_id) in state.datasets:
            state.columns[f"{dsn(ds_id)}::{name}"] = typ
    return state


_SCHEMA_AT = """
    WITH v AS (
        SELECT coalesce(a.canonical_id, dv.ds_id) AS ds_id, arg_max(dv.schema_hash, dv.created_at) AS sh
        FROM dataset_versions dv LEFT JOIN aliases a ON a.member_id = dv.ds_id
        WHERE dv.schema_hash IS NOT NULL AND dv.created_at <= $1 GROUP BY 1
    )
    SELECT v.ds_id, f.name, f.type FROM v JOIN schema_fields f ON f.schema_hash = v.sh
"""


def state_at(con: duckdb.DuckDBPyConnection, mode: Mode) -> GraphState:
    rel = relations(con, mode)
    io_rows = con.execute(f"SELECT job_id, ds_id, role FROM {rel.io}").fetchall()
    col_rows = con.execute(f"SELECT out_ds, out_field, in_ds, in_field, type, subtype FROM {rel.col}").fetchall()
    at = mode.at if mode.kind == "asof" else None
    schema_rows = con.execute(_SCHEMA_AT, [at or "infinity"]).fetchall()
    return _fill(GraphState(str(mode)), con, io_rows, col_rows, schema_rows)


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


def state_of_run(con: duckdb.DuckDBPyConnection, run_key: str) -> GraphState:
    io_rows = con.execute(
        """SELECT DISTINCT io.job_id, coalesce(a.canonical_id, io.ds_id), io.role FROM run_io io
           LEFT JOIN aliases a ON a.member_id = io.ds_id WHERE run_key = $1""", [run_key]).fetchall()
    col_rows = con.execute(
        """SELECT DISTINCT coalesce(ao.canonical_id, c.out_ds), c.out_field, coalesce(ai.canonical_id, c.in_ds),
                  c.in_field, c.type, c.subtype
           FROM f_column_edges c LEFT JOIN aliases ao ON ao.member_id = c.out_ds
           LEFT JOIN aliases ai ON ai.member_id = c.in_ds WHERE c.run_key = $1""", [run_key]).fetchall()
    schema_rows = con.execute(
        """WITH v AS (
               SELECT coalesce(a.canonical_id, d.ds_id) AS ds_id,
                      arg_max(d.schema_hash, (d.event_time, d.event_id)) AS sh
               FROM f_datasets d LEFT JOIN aliases a ON a.member_id = d.ds_id
               WHERE d.run_key = $1 AND d.schema_hash IS NOT NULL GROUP BY 1)
           SELECT v.ds_id, f.name, f.type FROM v JOIN schema_fields f ON f.schema_hash = v.sh""", [run_key]).fetchall()
    return _fill(GraphState(f"run {run_key}"), con, io_rows, col_rows, schema_rows)


def _edge_text(e: tuple[str, ...]) -> str:
    return f"{e[0]} -> {e[1]}" + (f" [{e[2]}]" if len(e) > 2 else "")


def diff(a: GraphState, b: GraphState) -> dict[str, Any]:
    def sets(x: set[Any], y: set[Any], fmt: Any = str) -> dict[str, list[str]]:
        return {"added": sorted(fmt(i) for i in y - x), "removed": sorted(fmt(i) for i in x - y)}

    changes = [
        {"column": c, "from": a.columns[c], "to": b.columns[c]}
        for c in sorted(set(a.columns) & set(b.columns))
        if a.columns[c] != b.columns[c]
    ]
    return {
        "from": a.label,
        "to": b.label,
        "datasets": sets(a.datasets, b.datasets),
        "jobs": sets(a.jobs, b.jobs),
        "edges": sets(a.edges, b.edges, _edge_text),
        "columns": sets(set(a.columns), set(b.columns)),
        "column-edges": sets(a.column_edges, b.column_edges, _edge_text),
        "schema-changes": changes,
    }


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
