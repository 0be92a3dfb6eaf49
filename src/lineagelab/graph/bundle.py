"""The viewer's data: every run with what it read, wrote and how columns flowed, plus node details.

One document feeds both the served UI (``/api/v1/viewer/bundle``) and the offline HTML export, so the browser can
compute latest / cumulative / as-of graphs and diffs of two times or two runs without a server. Symlinked datasets
are folded into their canonical node as everywhere else. ``focus`` + ``depth`` keep only the runs near a node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from lineagelab.graph import details
from lineagelab.graph.resolve import Node, describe

_DETAILS_CHUNK = 500  # nodes whose details are gathered together (a progress step)
MAX_EVENT_BYTES = 8 * 1024 * 1024  # raw events inlined in an export, in all; beyond that they are left out


def _iso(t: Any) -> str | None:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(t, datetime) else None


def build(con: duckdb.DuckDBPyConnection, focus: Node | None = None, depth: int = 0, with_details: bool = True,
          with_events: bool = True, progress: Callable[[int, int], None] | None = None,
          max_runs: int = 0) -> dict[str, Any]:
    """``progress(done, total)`` is called as node details are gathered (the slow part of an export).

    ``max_runs`` (0: no limit) bounds the runs kept, for the served viewer: a browser cannot take a store of 100,000
    jobs (400 MB of JSON), and shows a few hundred nodes anyway. Over it, the runs kept are those of the jobs nearest
    the focus (without one, the dataset most jobs touch), whole hops at a time, the most recent jobs of the last hop
    first; ``partial`` then says how many were kept of how many."""
    canon = dict(con.execute("SELECT member_id, canonical_id FROM aliases").fetchall())

    def c(ds: int) -> str:  # ids are 63-bit: strings, or JavaScript rounds them
        return str(canon.get(ds, ds))

    keep_jobs: set[str] | None = None
    partial: dict[str, int] | None = None
    if focus is not None or max_runs:
        hood = _Hood.load(con, c)
        total = sum(hood.runs.values())
        if focus is None and total > max_runs:
            focus = hood.busiest(con)
        if focus is not None:
            keep_jobs, cut = hood.near(focus, depth, max_runs)
            if cut:
                partial = {"keptRuns": sum(hood.runs.get(j, 0) for j in keep_jobs), "totalRuns": total,
                           "maxRuns": max_runs}
    only = "" if keep_jobs is None else "AND job_id IN (SELECT unnest($1::BIGINT[]))"
    wanted = [] if keep_jobs is None else [[int(j) for j in keep_jobs if j != "None"]]
    runs: dict[str, dict[str, Any]] = {}
    for key, run_id, job, state, start, end, ms, err in con.execute(f"""
            SELECT run_key, run_id, job_id, state, started_at, ended_at, duration_ms, error_message
            FROM runs WHERE has_io {only} ORDER BY started_at, run_key""", wanted).fetchall():
        runs[key] = {"key": key, "runId": run_id, "job": str(job), "state": state, "start": _iso(start),
                     "end": _iso(end), "ms": ms, "error": err, "inputs": [], "outputs": [], "cols": []}
    kept = list(runs.values())
    # inputs, outputs and column edges only of the runs kept (a focused bundle of a large store would load them all)
    of_kept = "" if keep_jobs is None else "WHERE run_key IN (SELECT unnest($1::VARCHAR[]))"
    keys = [] if keep_jobs is None else [[r["key"] for r in kept]]
    for key, ds, role in con.execute(f"SELECT DISTINCT run_key, ds_id, role FROM run_io {of_kept} ORDER BY ALL",
                                     keys).fetchall():
        if key in runs:
            side = runs[key]["outputs" if role == "output" else "inputs"]
            if c(ds) not in side:
                side.append(c(ds))
    for key, out_ds, out_f, in_ds, in_f, typ, sub in con.execute(f"""
            SELECT DISTINCT run_key, out_ds, out_field, in_ds, in_field, type, subtype FROM f_column_edges {of_kept}
            ORDER BY ALL""", keys).fetchall():
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
        **({"partial": partial} if partial else {}),
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


@dataclass
class _Hood:
    """Which jobs touch which datasets (runs with inputs or outputs; aliases folded), and each job's runs."""

    by_ds: dict[str, set[str]]
    job_ds: dict[str, set[str]]
    runs: dict[str, int]
    latest: dict[str, str]

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, c: Callable[[int], str]) -> _Hood:
        by_ds: dict[str, set[str]] = defaultdict(set)
        job_ds: dict[str, set[str]] = defaultdict(set)
        for job, ds in con.execute("""
                SELECT DISTINCT r.job_id, io.ds_id FROM run_io io JOIN runs r USING (run_key)
                WHERE r.has_io""").fetchall():
            by_ds[c(ds)].add(str(job))
            job_ds[str(job)].add(c(ds))
        runs: dict[str, int] = {}
        latest: dict[str, str] = {}
        for job, n, last in con.execute("""
                SELECT job_id, count(*), max(started_at) FROM runs WHERE has_io GROUP BY job_id""").fetchall():
            runs[str(job)] = n
            latest[str(job)] = _iso(last) or ""
        return cls(by_ds, job_ds, runs, latest)

    def busiest(self, con: duckdb.DuckDBPyConnection) -> Node | None:
        """The dataset the most jobs touch (the viewer's default focus)."""
        if not self.by_ds:
            return None
        ds = min(self.by_ds, key=lambda d: (-len(self.by_ds[d]), int(d)))
        return describe(con, "dataset", [int(ds)])[int(ds)]

    def near(self, focus: Node, depth: int, max_runs: int) -> tuple[set[str], bool]:
        """Jobs within ``depth`` dataset/job hops of the focus (0: any), either direction, whole hops while their
        runs stay within ``max_runs`` (0: any); and whether the budget cut the walk short."""
        start = (focus.kind, str(focus.id))
        seen = {start}
        jobs = {start[1]} if focus.kind == "job" else set()
        spent = sum(self.runs.get(j, 0) for j in jobs)
        level = [start]
        hops = 0
        while level and not (depth and hops >= depth):
            nxt: list[tuple[str, str]] = []
            for kind, ident in level:
                for n in ([("job", j) for j in sorted(self.by_ds.get(ident, ()))] if kind == "dataset" else
                          [("dataset", x) for x in sorted(self.job_ds.get(ident, ()))]):
                    if n not in seen:
                        seen.add(n)
                        nxt.append(n)
            hops += 1
            if nxt and nxt[0][0] == "job":
                cost = sum(self.runs.get(j, 0) for _, j in nxt)
                if max_runs and spent + cost > max_runs:
                    for _, j in sorted(nxt, key=lambda n: (self.latest.get(n[1], ""), n[1]), reverse=True):
                        if jobs and spent + self.runs.get(j, 0) > max_runs:
                            break
                        jobs.add(j)
                        spent += self.runs.get(j, 0)
                    return jobs, True
                jobs.update(j for _, j in nxt)
                spent += cost
            level = nxt
        return jobs, False


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
