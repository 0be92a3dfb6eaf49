"""Upstream/downstream lineage, column lineage and impact, answered from the store.

A cold query (one CLI call) must not load a million edges to answer about twenty nodes, so traversal expands a
frontier level by level with one SQL query per level and node kind; only the answer becomes a networkx graph. The
warm path (``graph.memory``) holds the whole mode graph in networkx for servers answering many queries.

Depth counts edges in the dataset/job graph: dataset -> job -> dataset is depth 2. For columns, one column hop (one
job's transformation) is depth 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import duckdb
import networkx as nx

from lineagelab.graph.modes import Mode, relations
from lineagelab.graph.resolve import Node, NodeRef, describe, display_names
from lineagelab.graph.types import WHOLE_ROW, ColumnEdge, ColumnKey, Direction, GraphKey, NodeKey, Transformation
from lineagelab.store import queries
from lineagelab.store.queries import ColumnRow, NodeKind, Relations, Role

DS, JOB, COL = "dataset", "job", "column"
__all__ = ["COL", "DS", "JOB", "WHOLE_ROW", "Impacted", "Lineage", "column_lineage", "impact", "table_lineage",
           "whole_graph"]

Edge = tuple[GraphKey, GraphKey]
_KINDS: tuple[NodeKind, ...] = ("dataset", "job")


def _io_edge(ds_id: int, job_id: int, role: str) -> tuple[NodeKey, NodeKey]:
    """An input is read by its job (dataset -> job), an output written by it (job -> dataset)."""
    if role == "input":
        return NodeKey("dataset", ds_id), NodeKey("job", job_id)
    return NodeKey("job", job_id), NodeKey("dataset", ds_id)


def _table_step(con: duckdb.DuckDBPyConnection, rel: Relations, frontier: list[GraphKey], upstream: bool,
                owner: dict[int, int] | None = None) -> list[Edge]:
    """Edges (src, dst) that leave the frontier in the walking direction. ``owner`` maps child jobs to the
    application job that answers for them (their reads and writes become its own)."""
    owner = owner or {}
    edges: list[Edge] = []
    for kind in _KINDS:
        ids = [n.id for n in frontier if isinstance(n, NodeKey) and n.kind == kind]
        if not ids:
            continue
        if kind == "job":
            ids += [c for c, p in owner.items() if p in ids and c not in ids]
        # upstream, a dataset is reached from the jobs writing it and a job from what it reads; downstream the reverse
        role: Role = ("output" if kind == "dataset" else "input") if upstream else \
            ("input" if kind == "dataset" else "output")
        edges += [_io_edge(ds_id, owner.get(job_id, job_id) if kind == "job" else job_id, role)
                  for ds_id, job_id in queries.io_edges(con, rel, role, kind, ids)]
    return edges


def application_children(con: duckdb.DuckDBPyConnection, node: Node) -> dict[int, int]:
    """The child jobs of a Spark application's job (openlineage-spark reports each write as a job of its own,
    the ParentRunFacet naming the application's run), each mapped to it; empty for any other node."""
    if node.kind != "job":
        return {}
    return {c: p for p, c in queries.child_jobs(con, [node.id])}


Step = Callable[[list[GraphKey], bool], list[Edge]]


def _bfs(start: list[GraphKey], step: Callable[[list[GraphKey]], list[Edge]], depth: int | None,
         upstream: bool) -> nx.DiGraph:
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
    for kind in _KINDS:
        ids = sorted({n.id for n in g if isinstance(n, NodeKey) and n.kind == kind})
        for i, node in describe(con, kind, ids).items():
            g.nodes[NodeKey(kind, i)].update(kind=kind, namespace=node.namespace, name=node.name, key=node.key)
    ds_names = {n.id: g.nodes[n].get("key") for n in g if isinstance(n, NodeKey) and n.kind == "dataset"}
    for i, shown in display_names(con, sorted(ds_names)).items():
        g.nodes[NodeKey("dataset", i)]["label"] = shown
    missing = sorted({n.dataset for n in g if isinstance(n, ColumnKey) and n.dataset not in ds_names})
    ds_names.update({i: n.key for i, n in describe(con, "dataset", missing).items()})
    for n in g:
        if isinstance(n, ColumnKey):
            g.nodes[n].update(kind=COL, dataset=ds_names.get(n.dataset), field=n.field,
                              key=f"{ds_names.get(n.dataset)}::{n.field}")


@dataclass(frozen=True)
class Lineage:
    """The answer to a lineage question: a labelled networkx graph (nodes ``NodeKey`` or ``ColumnKey``; edges of
    column graphs carry their ``transformations``) plus how it was asked."""

    graph: nx.DiGraph
    start: list[GraphKey]
    mode: Mode
    direction: Direction
    depth: int | None
    column_edges: list[ColumnEdge] = dataclasses.field(default_factory=list)


def _walk(start: list[GraphKey], step: Step, direction: Direction, depth: int | None) -> nx.DiGraph:
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
    direction: Direction = "both",
    depth: int | None = 20,
    columns: bool = False,
) -> Lineage:
    owner = application_children(con, node)
    with relations(con, mode) as rel:
        g = _walk([node.nx_id], lambda f, up: _table_step(con, rel, f, up, owner), direction, depth)
        _label(con, g)
        column_edges = column_edges_between(con, rel, [n.id for n in g if n.kind == DS]) if columns else []
        return Lineage(g, [node.nx_id], mode, direction, depth, column_edges)


def whole_graph(con: duckdb.DuckDBPyConnection, mode: Mode = Mode()) -> Lineage:
    """Every job and dataset of a mode (for overviews and the viewer; large stores page through ``lineage``)."""
    with relations(con, mode) as rel:
        g = nx.DiGraph()
        g.add_edges_from(_io_edge(ds_id, job_id, role) for ds_id, job_id, role in queries.all_io(con, rel))
        for n in g:
            g.nodes[n]["depth"] = 0
        _label(con, g)
        jobs = [n.id for n in g if isinstance(n, NodeKey) and n.kind == "job"]
        parents = queries.parent_jobs(con, jobs)
        apps = describe(con, "job", sorted(set(parents.values())))
        for child, parent in parents.items():  # the tree groups an application's writes under it
            g.nodes[NodeKey("job", child)]["parent"] = apps[parent].key
        return Lineage(g, [], mode, "both", None)


def _col_rows(rows: Iterable[ColumnRow]) -> dict[tuple[ColumnKey, ColumnKey], list[Transformation]]:
    """Group edge rows by (src column node, dst column node) with their transformations."""
    edges: dict[tuple[ColumnKey, ColumnKey], list[Transformation]] = {}
    for job_id, out_ds, out_field, in_ds, in_field, typ, subtype, desc, masking in rows:
        if (out_ds, out_field) == (in_ds, in_field):
            continue
        src = ColumnKey(in_ds, in_field if in_field is not None else WHOLE_ROW)
        dst = ColumnKey(out_ds, out_field if out_field is not None else WHOLE_ROW)
        t = Transformation(job_id, typ, subtype, desc, bool(masking))
        lst = edges.setdefault((src, dst), [])
        if t not in lst:
            lst.append(t)
    return {pair: _in_order(ts) for pair, ts in edges.items()}


def _in_order(ts: Iterable[Transformation]) -> list[Transformation]:
    """One order whatever order the rows came in (DuckDB's DISTINCT gives none, and it differs between a store
    filled by ingest and one filled through a server): the same answer prints the same."""
    return sorted(ts, key=lambda t: (t.type or "", t.subtype or "", t.description or "", t.masking, t.job_id or 0))


def column_edges_between(con: duckdb.DuckDBPyConnection, rel: Relations, ds_ids: list[int]) -> list[ColumnEdge]:
    rows = queries.column_edges_between(con, rel, ds_ids)
    return [ColumnEdge(src, dst, tuple(ts)) for (src, dst), ts in _col_rows(rows).items()]


def column_lineage(
    con: duckdb.DuckDBPyConnection,
    ref: NodeRef,
    mode: Mode = Mode(),
    direction: Direction = "both",
    depth: int | None = 20,
) -> Lineage:
    assert ref.column is not None
    with relations(con, mode) as rel:
        transformations: dict[tuple[ColumnKey, ColumnKey], list[Transformation]] = {}

        def step(frontier: list[GraphKey], upstream: bool) -> list[Edge]:
            cols = [n for n in frontier if isinstance(n, ColumnKey)]
            named = [(n.dataset, n.field) for n in cols if n.field != WHOLE_ROW]
            whole = [n.dataset for n in cols if n.field == WHOLE_ROW]
            rows: list[ColumnRow] = []
            side: queries.Side = "out" if upstream else "in"
            if named:
                # Upstream, a column also depends on its dataset's row-level dependencies (out_field NULL): those
                # edges are attributed to the column asked about.
                for row, matched in queries.column_edges_of_fields(con, rel, side, named, row_level=upstream):
                    if upstream and row[2] is None:
                        row = (*row[:2], matched, *row[3:])  # type: ignore[assignment]
                    rows.append(row)
            if whole:
                # Every column of a dataset depends on its whole-row node: edges leave (or enter) through ``*``.
                for row in queries.column_edges_of_datasets(con, rel, side, whole):
                    if upstream:
                        rows.append((*row[:2], WHOLE_ROW, *row[3:]))  # type: ignore[arg-type]
                    else:
                        rows.append((*row[:4], WHOLE_ROW, *row[5:]))  # type: ignore[arg-type]
            edges = _col_rows(rows)
            for pair, ts in edges.items():
                lst = transformations.setdefault(pair, [])
                lst.extend(t for t in ts if t not in lst)
            return list(edges)

        start = ColumnKey(ref.node.id, ref.column)
        g = _walk([start], step, direction, depth)
        _label(con, g)
        jobs = describe(con, "job", sorted({t.job_id for ts in transformations.values() for t in ts if t.job_id}))
        for (src, dst), ts in transformations.items():
            if g.has_edge(src, dst):
                g.edges[src, dst]["transformations"] = [
                    dataclasses.replace(t, job=jobs[t.job_id].key if t.job_id in jobs else None) for t in _in_order(ts)]
        return Lineage(g, [start], mode, direction, depth)


@dataclass(frozen=True)
class Impacted:
    node: GraphKey
    key: str
    kind: str
    distance: int
    path: list[str]
    label: str | None = None  # the name users know it by, where not its key (a Glue table's db.table)


def impact(con: duckdb.DuckDBPyConnection, ref: NodeRef, mode: Mode = Mode(), upstream: bool = False) -> list[Impacted]:
    """Everything that depends on ``ref`` (or, upstream, that it depends on), nearest first, with a path to each."""
    direction: Direction = "upstream" if upstream else "downstream"
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
        out.append(Impacted(node, data.get("key", str(node)), data.get("kind", node.kind), len(path) - 1,
                            [lin.graph.nodes[p].get("key", str(p)) for p in path], data.get("label")))
    out.sort(key=lambda i: (i.distance, i.key))
    return out
