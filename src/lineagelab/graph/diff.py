"""Compare the lineage graph at two times, or what two runs did: the historical comparison the seed promises."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

import duckdb

from lineagelab.graph.modes import Mode, relations
from lineagelab.graph.resolve import AmbiguousNode, NodeNotFound, resolve
from lineagelab.graph.traverse import application_children
from lineagelab.store import queries, queries_diff, queries_runs
from lineagelab.store.queries_diff import Part

CATEGORIES: tuple[Part, ...] = get_args(Part)
FAIL_ON = (*(f"{c}-{k}" for c in ("added", "removed") for k in CATEGORIES), "schema-changes", "any")


@dataclass(frozen=True)
class GraphState:
    """One side of a diff: its named rows held in the store's temporary tables under ``prefix`` (see
    ``store.queries_diff``)."""

    label: str
    prefix: str


@contextmanager
def state_at(con: duckdb.DuckDBPyConnection, mode: Mode) -> Iterator[GraphState]:
    """The graph of ``mode`` (as of a time, for a diff of two times)."""
    at: datetime | str = mode.at if mode.kind == "asof" and mode.at else "infinity"
    with relations(con, mode) as rel, queries_diff.graph_side(con, rel, at) as prefix:
        yield GraphState(str(mode), prefix)


class RunNotFound(LookupError):
    pass


RUN_AT = {"latest": 0, "previous": 1}  # JOB@latest, JOB@previous: a job's newest runs that read or wrote


def resolve_run(con: duckdb.DuckDBPyConnection, text: str) -> str:
    """A run id, a unique prefix of one, or ``JOB@latest`` / ``JOB@previous`` (a Spark application's job
    counts the runs of its writes)."""
    job, at, which = text.rpartition("@")
    if at and which in RUN_AT:
        return _run_of_job(con, job, which)
    rows = queries.run_keys_like(con, text, 11)
    if text in rows:
        return text
    if len(rows) == 1:
        return rows[0]
    if not rows:
        raise RunNotFound(f"no run with id {text!r} (give a run id, a unique prefix of one, or JOB@latest)")
    shown = "; ".join(f"{key} ({job or '?'}, {_iso(start)})" for key, job, start in
                      queries_runs.describe_runs(con, rows[:10]))
    more = ", …" if len(rows) > 10 else ""
    raise RunNotFound(f"run id prefix {text!r} matches {'more than 10' if more else len(rows)} runs: {shown}{more}")


def _iso(t: datetime | None) -> str:
    return t.isoformat() if t else "not started"


def _run_of_job(con: duckdb.DuckDBPyConnection, text: str, which: str) -> str:
    try:
        node = resolve(con, text).node
    except (NodeNotFound, AmbiguousNode) as exc:
        raise RunNotFound(str(exc).splitlines()[0]) from None
    if node.kind != "job":
        raise RunNotFound(f"{text!r} is a dataset ({node.key}): JOB@{which} takes a job")
    keys = queries_runs.runs_with_io_newest(con, [node.id, *application_children(con, node)], RUN_AT[which] + 1)
    if len(keys) <= RUN_AT[which]:
        raise RunNotFound(f"{node.key} has {len(keys)} run(s) that read or wrote anything: no {which} run")
    return keys[RUN_AT[which]]


@contextmanager
def state_of_run(con: duckdb.DuckDBPyConnection, run_key: str) -> Iterator[GraphState]:
    """What one run read and wrote, and its columns."""
    with queries_diff.run_side(con, run_key) as prefix:
        yield GraphState(f"run {run_key}", prefix)


def _edge_text(e: tuple[str, ...]) -> str:
    return f"{e[0]} -> {e[1]}" + (f" [{e[2]}]" if len(e) > 2 else "")


#: How each part's rows read in the answer (one value: as it is).
_TEXT = {"edges": _edge_text, "column-edges": _edge_text}


def diff(con: duckdb.DuckDBPyConnection, a: GraphState, b: GraphState) -> dict[str, Any]:
    """What ``b`` has that ``a`` has not (added) and the reverse (removed), each list sorted."""

    def sets(part: Part) -> dict[str, list[str]]:
        fmt = _TEXT.get(part)

        def minus(x: GraphState, y: GraphState) -> list[str]:
            rows = queries_diff.only_in(con, part, y.prefix, x.prefix)
            return sorted(fmt(r) if fmt else r[0] for r in rows)

        return {"added": minus(a, b), "removed": minus(b, a)}

    changes = [{"column": c, "from": t1, "to": t2} for c, t1, t2 in sorted(
        queries_diff.type_changes(con, a.prefix, b.prefix))]
    return {"from": a.label, "to": b.label, **{part: sets(part) for part in CATEGORIES}, "schema-changes": changes}


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
