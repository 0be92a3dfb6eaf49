"""The viewer's data: every run with what it read, wrote and how columns flowed, plus node details.

One document feeds both the served UI (``/api/v1/viewer/bundle``) and the offline HTML export, so the browser can
compute latest / cumulative / as-of graphs and diffs of two times or two runs without a server. Symlinked datasets
are folded into their canonical node as everywhere else. ``focus`` + ``depth`` keep only the runs near a node.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from lineagelab.graph import details
from lineagelab.graph.resolve import Node

_DETAILS_CHUNK = 500  # nodes whose details are gathered together (a progress step)
MAX_EVENT_BYTES = 8 * 1024 * 1024  # raw events inlined in an export, in all; beyond that they are left out


def _iso(t: Any) -> str | None:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(t, datetime) else None


def build(con: duckdb.DuckDBPyConnection, focus: Node | None = None, depth: int = 0, with_details: bool = True,
          with_events: bool = True, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """``progress(done, total)`` is called as node details are gathered (the slow part of an export)."""
    canon = dict(con.execute("SELECT member_id, canonical_id FROM aliases").fetchall())

    def c(ds: int) -> str:  # ids are 63-bit: strings, or JavaScript rounds them
        return str(canon.get(ds, ds))

    runs: dict[str, dict[str, Any]] = {}
    for key, run_id, job, state, start, end, ms, err in con.execute("""
            SELECT run_key, run_id, job_id, state, started_at, ended_at, duration_ms, error_message
            FROM runs WHERE has_io ORDER BY started_at, run_key""").fetchall():
        runs[key] = {"key": key, "runId": run_id, "job": str(job), "state": state, "start": _iso(start),
                     "end": _iso(end), "ms": ms, "error": err, "inputs": [], "outputs": [], "cols": []}
    for key, ds, role in con.execute("SELECT DISTINCT run_key, ds_id, role FROM run_io ORDER BY ALL").fetchall():
        if key in runs:
            side = runs[key]["outputs" if role == "output" else "inputs"]
            if c(ds) not in side:
                side.append(c(ds))
    keep_jobs: set[str] | None = None
    if focus is not None:
        keep_jobs = _near(runs, focus, depth)
    kept = [r for r in runs.values() if keep_jobs is None or r["job"] in keep_jobs]
    # column edges only of the runs kept (a focused export of a large store would load them all otherwise)
    only = "" if keep_jobs is None else "WHERE run_key IN (SELECT unnest($1::VARCHAR[]))"
    for key, out_ds, out_f, in_ds, in_f, typ, sub in con.execute(f"""
            SELECT DISTINCT run_key, out_ds, out_field, in_ds, in_field, type, subtype FROM f_column_edges {only}
            ORDER BY ALL""", [] if keep_jobs is None else [[r["key"] for r in kept]]).fetchall():
        if key in runs:
            runs[key]["cols"].append([c(out_ds), out_f, c(in_ds), in_f, typ, sub])
    ds_ids = {d for r in kept for d in (*r["inputs"], *r["outputs"])} | {
        d for r in kept for col in r["cols"] for d in (col[0], col[2])}
    job_ids = {r["job"] for r in kept}
    if focus is not None:
        (ds_ids if focus.kind == "dataset" else job_ids).add(str(focus.id))

    rows = [r for r in con.execute("SELECT ds_id, namespace, name FROM datasets ORDER BY ds_id").fetchall()
            if str(r[0]) in ds_ids]
    fields = _fields(con, [r[0] for r in rows])
    datasets = [{"id": str(ds), "ns": ns, "name": name, "fields": fields.get(ds, [])} for ds, ns, name in rows]
    jobs = [{"id": str(j), "ns": ns, "name": name} for j, ns, name in con.execute(
        "SELECT job_id, namespace, name FROM jobs ORDER BY job_id").fetchall() if str(j) in job_ids]

    doc: dict[str, Any] = {
        "generated": _iso(datetime.now(UTC)),
        "focus": None if focus is None else {"kind": focus.kind, "id": str(focus.id)},
        "datasets": datasets, "jobs": jobs, "runs": kept,
    }
    if with_details:
        nodes = [Node("dataset", int(d["id"]), d["ns"], d["name"]) for d in datasets] + \
            [Node("job", int(j["id"]), j["ns"], j["name"]) for j in jobs]
        doc["details"] = {}
        for i in range(0, len(nodes), _DETAILS_CHUNK):
            chunk = nodes[i:i + _DETAILS_CHUNK]
            found = {"dataset": details.datasets_details(con, [n for n in chunk if n.kind == "dataset"]),
                     "job": details.jobs_details(con, [n for n in chunk if n.kind == "job"])}
            for n in chunk:
                doc["details"][f"{n.kind}:{n.id}"] = _plain(found[n.kind][n.id])
            if progress is not None:
                progress(i + len(chunk), len(nodes))
    if with_events:
        doc["events"] = _events(con, [r["runId"] for r in kept if r["runId"]])
    return doc


def _fields(con: duckdb.DuckDBPyConnection, ds_ids: list[int]) -> dict[int, list[list[str]]]:
    """Each dataset's latest schema, in one query (one per dataset cost seconds on large stores)."""
    out: dict[int, list[list[str]]] = defaultdict(list)
    seen: set[tuple[int, str, str]] = set()
    for ds, name, typ in con.execute("""
            SELECT v.ds_id, f.name, f.type FROM (
                SELECT ds_id, schema_hash, created_at,
                       max(created_at) OVER (PARTITION BY ds_id) AS latest
                FROM dataset_versions
                WHERE schema_hash IS NOT NULL AND ds_id IN (SELECT unnest($1::BIGINT[]))) v
            JOIN schema_fields f USING (schema_hash)
            WHERE v.created_at = v.latest
            ORDER BY v.ds_id, f.ordinal""", [ds_ids]).fetchall():
        if (ds, name, typ) not in seen:
            seen.add((ds, name, typ))
            out[ds].append([name, typ or ""])
    return out


def _near(runs: dict[str, dict[str, Any]], focus: Node, depth: int) -> set[str]:
    """Jobs within ``depth`` dataset/job hops of the focus, either direction."""
    by_ds: dict[str, set[str]] = defaultdict(set)
    job_ds: dict[str, set[str]] = defaultdict(set)
    for r in runs.values():
        for d in (*r["inputs"], *r["outputs"]):
            by_ds[d].add(r["job"])
            job_ds[r["job"]].add(d)
    start = (focus.kind, str(focus.id))
    seen = {start}
    frontier: deque[tuple[tuple[str, str], int]] = deque([(start, 0)])
    while frontier:
        (kind, ident), d = frontier.popleft()
        if depth and d >= depth:
            continue
        nxt = [("job", j) for j in by_ds.get(ident, ())] if kind == "dataset" else \
            [("dataset", x) for x in job_ds.get(ident, ())]
        for n in nxt:
            if n not in seen:
                seen.add(n)
                frontier.append((n, d + 1))
    return {i for k, i in seen if k == "job"}


def _events(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> dict[str, Any]:
    out: dict[str, list[Any]] = defaultdict(list)
    budget = MAX_EVENT_BYTES
    for run_id, raw in con.execute("""
            SELECT run_id, raw FROM raw_events WHERE run_id IN (SELECT unnest($1::VARCHAR[]))
            ORDER BY event_time DESC, seq DESC""", [run_ids]).fetchall():
        budget -= len(raw)
        if budget < 0:
            out.setdefault("_truncated", [])
            break
        out[run_id].insert(0, orjson.loads(raw))
    return dict(out)


def _plain(doc: Any) -> Any:
    """Datetimes and other DuckDB values as JSON."""
    return orjson.loads(orjson.dumps(doc, default=str))
