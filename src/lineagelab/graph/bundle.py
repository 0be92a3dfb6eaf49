"""The viewer's data: every run with what it read, wrote and how columns flowed, plus node details.

One document feeds both the served UI (``/api/v1/viewer/bundle``) and the offline HTML export, so the browser can
compute latest / cumulative / as-of graphs and diffs of two times or two runs without a server. Symlinked datasets
are folded into their canonical node as everywhere else. ``focus`` + ``depth`` keep only the runs near a node.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from lineagelab.graph import details
from lineagelab.graph.resolve import Node, describe, display_names
from lineagelab.store import queries
from lineagelab.store import queries_bundle as q
from lineagelab.store.queries_bundle import PairSide

_DETAILS_CHUNK = 500  # nodes whose details are gathered together (a progress step)
MAX_EVENT_BYTES = 8 * 1024 * 1024  # raw events inlined in an export, in all; beyond that they are left out
_NEVER = datetime.min.replace(tzinfo=UTC)  # a job whose runs never started sorts as the least recent


def _iso(t: object) -> str | None:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(t, datetime) else None


def build(con: duckdb.DuckDBPyConnection, focus: Node | None = None, depth: int = 0, with_details: bool = True,
          with_events: bool = True, progress: Callable[[int, int], None] | None = None,
          max_runs: int = 0) -> dict[str, Any]:
    """``progress(done, total)`` is called as node details are gathered (the slow part of an export).

    ``max_runs`` (0: no limit) bounds the runs kept, for the served viewer: a browser cannot take a store of 100,000
    jobs (400 MB of JSON), and shows a few hundred nodes anyway. Over it, the runs kept are those of the jobs nearest
    the focus (without one, the dataset most jobs touch), whole hops at a time, the most recent jobs of the last hop
    first. Whenever runs are left out (budget, focus or depth), ``partial`` says how many were kept of how many, and
    ``cut`` whether the budget was the reason."""
    canon = q.aliases(con)

    def c(ds: int) -> str:  # ids are 63-bit: strings, or JavaScript rounds them
        return str(canon.get(ds, ds))

    keep_jobs: set[str] | None = None
    partial: dict[str, Any] | None = None
    total = q.runs_with_io_count(con) if focus is not None or max_runs else 0
    if focus is not None or total > max_runs:  # a part of the store: walk out from the focus
        with _Hood.of(con) as hood:
            focus = focus or hood.busiest()
            if focus is not None:
                keep_jobs, cut, kept_runs = hood.near(focus, depth, max_runs)
                if kept_runs < total:
                    partial = {"keptRuns": kept_runs, "totalRuns": total, "maxRuns": max_runs, "cut": cut}
    runs: dict[str, dict[str, Any]] = {}
    for key, run_id, job, state, start, end, ms, err in q.runs_with_io(
            con, None if keep_jobs is None else [int(j) for j in keep_jobs]):
        runs[key] = {"key": key, "runId": run_id, "job": str(job), "state": state, "start": _iso(start),
                     "end": _iso(end), "ms": ms, "error": err, "inputs": [], "outputs": [], "cols": []}
    kept = list(runs.values())
    # inputs, outputs and column edges only of the runs kept (a focused bundle of a large store would load them all)
    keys = None if keep_jobs is None else [r["key"] for r in kept]
    for key, ds, role in q.run_io(con, keys):
        if key in runs:
            side = runs[key]["outputs" if role == "output" else "inputs"]
            if c(ds) not in side:
                side.append(c(ds))
    for key, out_ds, out_f, in_ds, in_f, typ, sub in q.run_column_edges(con, keys):
        if key in runs:
            runs[key]["cols"].append([c(out_ds), out_f, c(in_ds), in_f, typ, sub])
    ds_ids = {d for r in kept for d in (*r["inputs"], *r["outputs"])} | {
        d for r in kept for col in r["cols"] for d in (col[0], col[2])}
    job_ids = {r["job"] for r in kept}
    if focus is not None:
        (ds_ids if focus.kind == "dataset" else job_ids).add(str(focus.id))

    rows = queries.names(con, "dataset", [int(d) for d in ds_ids])
    fields = _fields(con, [r[0] for r in rows])
    shown = display_names(con, [r[0] for r in rows])  # the viewer labels a Glue table by its db.table
    datasets: list[dict[str, Any]] = [{"id": str(ds), "ns": ns, "name": name, "fields": fields.get(ds, []),
                                       **({"label": shown[ds]} if ds in shown else {})}
                                      for ds, ns, name in rows]
    job_rows = queries.names(con, "job", [int(j) for j in job_ids if j != "None"])
    parents = queries.parent_jobs(con, [r[0] for r in job_rows])  # a Spark application's job groups its writes
    jobs: list[dict[str, Any]] = [{"id": str(j), "ns": ns, "name": name,
                                   **({"parent": str(parents[j])} if j in parents else {})}
                                  for j, ns, name in job_rows]

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
            datasets_ = details.datasets_details(con, [n for n in chunk if n.kind == "dataset"])
            jobs_ = details.jobs_details(con, [n for n in chunk if n.kind == "job"])
            for n in chunk:
                found = datasets_[n.id] if n.kind == "dataset" else jobs_[n.id]
                doc["details"][f"{n.kind}:{n.id}"] = _plain(details.as_dict(found))
            if progress is not None:
                progress(i + len(chunk), len(nodes))
    if with_events:
        doc["events"] = _events(con, [r["runId"] for r in kept if r["runId"]])
    return doc


def _fields(con: duckdb.DuckDBPyConnection, ds_ids: list[int]) -> dict[int, list[list[str]]]:
    """Each dataset's latest schema, in one query (one per dataset cost seconds on large stores)."""
    out: dict[int, list[list[str]]] = defaultdict(list)
    seen: set[tuple[int, str, str | None]] = set()
    for ds, name, typ in q.latest_fields(con, ds_ids):
        if (ds, name, typ) not in seen:
            seen.add((ds, name, typ))
            out[ds].append([name, typ or ""])
    return out


class _Hood:
    """Which jobs touch which datasets (runs with inputs or outputs; aliases folded), asked hop by hop in DuckDB: a
    walk near a node reads its part of the store (the 88,000 jobs of the bench store took ~1 s to load whole)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, pairs: str):
        self.con, self.pairs = con, pairs

    @classmethod
    @contextmanager
    def of(cls, con: duckdb.DuckDBPyConnection) -> Iterator[_Hood]:
        with q.job_dataset_pairs(con) as pairs:
            yield cls(con, pairs)

    def busiest(self) -> Node | None:
        """The dataset the most jobs touch (the viewer's default focus)."""
        ds = q.busiest_dataset(self.con, self.pairs)
        return None if ds is None else describe(self.con, "dataset", [ds])[ds]

    def _other(self, side: PairSide, ids: list[str]) -> list[str]:
        """The ``side`` ("job" or "ds") of the pairs whose other side is in ``ids``."""
        return q.other_side(self.con, self.pairs, side, ids)

    def _runs(self, jobs: list[str]) -> dict[str, tuple[int, datetime]]:
        """Each job's runs (with inputs or outputs) and latest start."""
        return {str(j): (n, last or _NEVER) for j, n, last in q.job_runs_with_io(self.con, [int(j) for j in jobs])}

    def near(self, focus: Node, depth: int, max_runs: int) -> tuple[set[str], bool, int]:
        """Jobs within ``depth`` dataset/job hops of the focus (0: any), either direction, whole hops while their
        runs stay within ``max_runs`` (0: any); whether the budget cut the walk short; the runs kept."""
        side: PairSide = "ds" if focus.kind == "dataset" else "job"
        level = [str(focus.id)]
        seen: dict[str, set[str]] = {"ds": set(), "job": set()}
        seen[side].add(str(focus.id))
        jobs = {str(focus.id)} if focus.kind == "job" else set()
        spent = sum(n for n, _ in self._runs(list(jobs)).values())
        hops = 0
        while level and not (depth and hops >= depth):
            side = "job" if side == "ds" else "ds"  # the side the next hop reaches
            nxt = [n for n in self._other(side, level) if n not in seen[side]]
            seen[side].update(nxt)
            hops += 1
            if nxt and side == "job":
                runs = self._runs(nxt)
                cost = sum(n for n, _ in runs.values())
                if max_runs and spent + cost > max_runs:
                    for j in sorted(nxt, key=lambda j: (runs[j][1], j), reverse=True):  # the most recent first
                        if jobs and spent + runs[j][0] > max_runs:
                            break
                        jobs.add(j)
                        spent += runs[j][0]
                    return jobs, True, spent
                jobs.update(nxt)
                spent += cost
            level = nxt
        return jobs, False, spent


def _events(con: duckdb.DuckDBPyConnection, run_ids: list[str]) -> dict[str, Any]:
    out: dict[str, list[Any]] = defaultdict(list)
    budget = MAX_EVENT_BYTES
    for run_id, raw in q.raw_events_of_runs(con, run_ids):
        budget -= len(raw)
        if budget < 0:
            out.setdefault("_truncated", [])
            break
        out[run_id].insert(0, orjson.loads(raw))
    return dict(out)


def _plain(doc: Any) -> Any:
    """Datetimes and other DuckDB values as JSON."""
    return orjson.loads(orjson.dumps(doc, default=str))
