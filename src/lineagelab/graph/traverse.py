"""Upstream/downstream lineage, column lineage and impact, answered from the store.

A cold query (one CLI call) must not load a million edges to answer about twenty nodes, so traversal expands a
frontier level by level with one SQL query per level and node kind; only the answer becomes a networkx graph. The
warm path (``graph.memory``) holds the whole mode graph in networkx for servers answering many queries.

Depth counts edges in the dataset/job graph: dataset -> job -> dataset is depth 2. For columns, one column hop (one
job's transformation) is depth 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import networkx as nx

from lineagelab.graph.modes import Mode, Relations, relations
from lineagelab.graph.resolve import Node, NodeRef, describe

DS, JOB, COL = "dataset", "job", "column"
WHOLE_ROW = "*"  # a dataset-wide dependency (join/filter/group key) reaches every column of its output


def _table_step(
    con: duckdb.DuckDBPyConnection, rel: Relations, kind: str, ids: list[int], upstream: bool
) -> list[tuple[tuple[str, int], tuple[str, int]]]:
    """Edges (src, dst) that leave the frontier in the walking direction."""
    if not ids:
        return []
    if kind == DS:
        role, key = ("output", "ds_id") if upstream else ("input", "ds_id")
    else:
        role, key = ("input", "job_id") if upstream else ("output", "job_id")
    rows = con.execute(
        f"SELECT ds_id, job_id FROM {rel.io} WHERE role = '{role}' AND {key} IN (SELECT unnest($1::BIGINT[]))",
        [ids],
    ).fetchall()
    edges = []
    for ds_id, job_id in rows:
        if role == "input":
            edges.append(((DS, ds_id), (JOB, job_id)))
        else:
            edges.append(((JOB, job_id), (DS, ds_id)))
    return edges


def _bfs(
    start: list[tuple[Any, ...]],
    step: Any,
    depth: int | None,
    upstream: bool,
) -> nx.DiGraph:
    g = nx.DiGraph()
    for s in start:
        g.add_node(s, depth=0)
    frontier = list(start)
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        edges = step(frontier)
        nxt = []
        for src, dst in edges:
            new = dst if not upstream else src
            if new not in g:
                g.add_node(new, depth=level if not upstream else -level)
                nxt.append(new)
            g.add_edge(src, dst)
        frontier = nxt
    return g


def _label(con: duckdb.DuckDBPyConnection, g: nx.DiGraph) -> None:
    for kind in (DS, JOB):
        ids = sorted({n[1] for n in g if n[0] == kind})
        for i, node in describe(con, kind, ids).items():
            g.nodes[(kind, i)].update(kind=kind, namespace=node.namespace, name=node.name, key=node.key)
    ds_names = {n[1]: g.nodes[(DS, n[1])].get("key") for n in g if n[0] == DS}
    missing = sorted({n[1] for n in g if n[0] == COL and n[1] not in ds_names})
    ds_names.update({i: n.key for i, n in describe(con, DS, missing).items()})
    for n in g:
        if n[0] == COL:
            g.nodes[n].update(kind=COL, dataset=ds_names.get(n[1]), field=n[2], key=f"{ds_names.get(n[1])}::{n[2]}")


@dataclass
class Lineage:
    """The answer to a lineage question: a labelled networkx graph plus how it was asked."""

    graph: nx.DiGraph
    start: list[tuple[Any, ...]]
    mode: Mode
    direction: str
    depth: int | None
    column_edges: list[dict[str, Any]] = field(default_factory=list)


def _walk(con: duckdb.DuckDBPyConnection, start: list[tuple[Any, ...]], step: Any, direction: str,
          depth: int | None) -> nx.DiGraph:
    graphs = []
    if direction in ("downstream", "both"):
        graphs.append(_bfs(start, lambda f: step(f, False), depth, upstream=False))
    if direction in ("upstream", "both"):
        graphs.append(_bfs(start, lambda f: step(f, True), depth, upstream=True))
    g = nx.compose_all(graphs) if len(graphs) > 1 else graphs[0]
    for s in start:
        g.nodes[s]["depth"] = 0
    return g


def table_lineage(
    con: duckdb.DuckDBPyConnection,
    node: Node,
    mode: Mode = Mode(),
    direction: str = "both",
    depth: int | None = 20,
    columns: bool = False,
) -> Lineage:
    with relations(con, mode) as rel:
        def step(frontier: list[tuple[Any, ...]], upstream: bool) -> list[Any]:
            out = []
            for kind in (DS, JOB):
                out += _table_step(con, rel, kind, [n[1] for n in frontier if n[0] == kind], upstream)
            return out

        g = _walk(con, [node.nx_id], step, direction, depth)
        _label(con, g)
        result = Lineage(g, [node.nx_id], mode, direction, depth)
        if columns:
            ds_ids = [n[1] for n in g if n[0] == DS]
            result.column_edges = column_edges_between(con, rel, ds_ids)
        return result


def whole_graph(con: duckdb.DuckDBPyConnection, mode: Mode = Mode()) -> Lineage:
    """Every job and dataset of a mode (for overviews and the viewer; large stores page through ``lineage``)."""
    with relations(con, mode) as rel:
        g = nx.DiGraph()
        for ds_id, job_id, role in con.execute(f"SELECT ds_id, job_id, role FROM {rel.io}").fetchall():
            if role == "input":
                g.add_edge((DS, ds_id), (JOB, job_id))
            else:
                g.add_edge((JOB, job_id), (DS, ds_id))
        for n in g:
            g.nodes[n]["depth"] = 0
        _label(con, g)
        return Lineage(g, [], mode, "both", None)


def _col_rows(rows: Iterable[tuple[Any, ...]]) -> dict[tuple[Any, Any], list[dict[str, Any]]]:
    """Group edge rows by (src column node, dst column node) with their transformations."""
    edges: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for job_id, out_ds, out_field, in_ds, in_field, typ, subtype, desc, masking in rows:
        if (out_ds, out_field) == (in_ds, in_field):
            continue
        src = (COL, in_ds, in_field if in_field is not None else WHOLE_ROW)
        dst = (COL, out_ds, out_field if out_field is not None else WHOLE_ROW)
        t = {"job_id": job_id, "type": typ, "subtype": subtype, "description": desc, "masking": bool(masking)}
        lst = edges.setdefault((src, dst), [])
        if t not in lst:
            lst.append(t)
    return edges


_COLS = "job_id, out_ds, out_field, in_ds, in_field, type, subtype, description, masking"


def column_edges_between(con: duckdb.DuckDBPyConnection, rel: Relations, ds_ids: list[int]) -> list[dict[str, Any]]:
    rows = con.execute(
        f"""SELECT {_COLS} FROM {rel.col}
            WHERE out_ds IN (SELECT unnest($1::BIGINT[])) AND in_ds IN (SELECT unnest($1::BIGINT[]))
            ORDER BY ALL""",  # the same answer in the same order, whatever order DuckDB's joins produce
        [ds_ids],
    ).fetchall()
    return [{"source": src, "target": dst, "transformations": ts} for (src, dst), ts in _col_rows(rows).items()]


def column_lineage(
    con: duckdb.DuckDBPyConnection,
    ref: NodeRef,
    mode: Mode = Mode(),
    direction: str = "both",
    depth: int | None = 20,
) -> Lineage:
    assert ref.column is not None
    with relations(con, mode) as rel:
        transformations: dict[tuple[Any, Any], list[dict[str, Any]]] = {}

        def step(frontier: list[tuple[Any, ...]], upstream: bool) -> list[Any]:
            named = [(n[1], n[2]) for n in frontier if n[2] != WHOLE_ROW]
            whole = [n[1] for n in frontier if n[2] == WHOLE_ROW]
            rows: list[tuple[Any, ...]] = []
            side = "out" if upstream else "in"
            if named:
                # Upstream, a column also depends on its dataset's row-level dependencies (out_field NULL): those
                # edges are attributed to the column asked about.
                null_ok = f" OR (c.{side}_field IS NULL AND c.{side}_ds = q.d)" if upstream else ""
                cols = ", ".join("c." + x.strip() for x in _COLS.split(","))
                for r in con.execute(
                    f"""SELECT DISTINCT {cols}, q.f FROM {rel.col} c
                        JOIN (SELECT unnest($1::BIGINT[]) AS d, unnest($2::VARCHAR[]) AS f) q
                          ON (c.{side}_ds = q.d AND c.{side}_field = q.f){null_ok}""",
                    [[d for d, _ in named], [f for _, f in named]],
                ).fetchall():
                    row = list(r)
                    if upstream and row[2] is None:
                        row[2] = row[9]
                    rows.append(tuple(row[:9]))
            if whole:
                # Every column of a dataset depends on its whole-row node: edges leave (or enter) through ``*``.
                for r in con.execute(
                    f"SELECT {_COLS} FROM {rel.col} WHERE {side}_ds IN (SELECT unnest($1::BIGINT[]))", [whole]
                ).fetchall():
                    row = list(r)
                    row[2 if upstream else 4] = WHOLE_ROW
                    rows.append(tuple(row))
            edges = _col_rows(rows)
            for pair, ts in edges.items():
                lst = transformations.setdefault(pair, [])
                lst.extend(t for t in ts if t not in lst)
            return list(edges)

        start = (COL, ref.node.id, ref.column)
        g = _walk(con, [start], step, direction, depth)
        for (src, dst), ts in transformations.items():
            if g.has_edge(src, dst):
                g.edges[src, dst]["transformations"] = ts
        _label(con, g)
        jobs = describe(con, JOB, sorted({t["job_id"] for ts in transformations.values() for t in ts if t["job_id"]}))
        for _, _, data in g.edges(data=True):
            for t in data.get("transformations", []):
                t["job"] = jobs[t["job_id"]].key if t["job_id"] in jobs else None
        return Lineage(g, [start], mode, direction, depth)


@dataclass
class Impacted:
    node: tuple[Any, ...]
    key: str
    kind: str
    distance: int
    path: list[str]


def impact(con: duckdb.DuckDBPyConnection, ref: NodeRef, mode: Mode = Mode(), upstream: bool = False) -> list[Impacted]:
    """Everything that depends on ``ref`` (or, upstream, that it depends on), nearest first, with a path to each."""
    direction = "upstream" if upstream else "downstream"
    if ref.column is not None:
        lin = column_lineage(con, ref, mode, direction, None)
    else:
        lin = table_lineage(con, ref.node, mode, direction, None)
    g = lin.graph.reverse(copy=False) if upstream else lin.graph
    start = lin.start[0]
    paths = nx.single_source_shortest_path(g, start)
    out = []
    for node, path in paths.items():
        if node == start:
            continue
        data = lin.graph.nodes[node]
        out.append(Impacted(node, data.get("key", str(node)), data.get("kind", node[0]), len(path) - 1,
                            [lin.graph.nodes[p].get("key", str(p)) for p in path]))
    out.sort(key=lambda i: (i.distance, i.key))
    return out
