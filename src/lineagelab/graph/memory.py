"""A mode's whole table-level graph held in networkx, for processes that answer many queries (server, viewer).

Loading costs one scan of the edge table; afterwards a lineage query is a networkx BFS. ``graph.traverse`` answers
the same questions from the store without loading, and tests hold the two to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import networkx as nx

from lineagelab.graph.modes import Mode, relations
from lineagelab.graph.types import Direction, NodeKey
from lineagelab.store import queries


@dataclass
class MemoryGraph:
    graph: nx.DiGraph
    mode: Mode
    #: A Spark application's job -> its per-write jobs, whose reads and writes it answers with (as in traverse).
    children: dict[NodeKey, list[NodeKey]] = field(default_factory=dict)

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, mode: Mode = Mode()) -> MemoryGraph:
        with relations(con, mode) as rel:
            g = nx.DiGraph()
            rows = queries.all_io(con, rel)
            g.add_edges_from((NodeKey("dataset", d), NodeKey("job", j)) for d, j, r in rows if r == "input")
            g.add_edges_from((NodeKey("job", j), NodeKey("dataset", d)) for d, j, r in rows if r == "output")
            children: dict[NodeKey, list[NodeKey]] = {}
            for p, c in queries.child_jobs(con, None):
                children.setdefault(NodeKey("job", p), []).append(NodeKey("job", c))
            return cls(g, mode, children)

    def lineage(self, start: NodeKey, direction: Direction = "both", depth: int | None = 20) -> dict[NodeKey, int]:
        """Node -> signed distance (negative upstream), as ``traverse.table_lineage`` would give."""
        out: dict[NodeKey, int] = {start: 0}
        extra = [c for c in self.children.get(start, []) if c in self.graph]
        if start not in self.graph and not extra:
            return out
        if direction in ("downstream", "both"):
            for n, d in _reach(self.graph, start, extra, depth).items():
                out.setdefault(n, d)
        if direction in ("upstream", "both"):
            for n, d in _reach(self.graph.reverse(copy=False), start, extra, depth).items():
                out.setdefault(n, -d)
        return out


def _reach(g: nx.DiGraph, start: NodeKey, extra: list[NodeKey], depth: int | None) -> dict[NodeKey, int]:
    """Breadth-first distances from ``start``, whose first step also takes the edges of the ``extra`` nodes."""
    dist = {start: 0}
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        nxt = []
        for n in frontier:
            for s in ([n, *extra] if n == start else [n]):
                for m in (g.successors(s) if s in g else ()):
                    if m not in dist:
                        dist[m] = level
                        nxt.append(m)
        frontier = nxt
    return dist
