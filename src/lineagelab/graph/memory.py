"""A mode's whole table-level graph held in networkx, for processes that answer many queries (server, viewer).

Loading costs one scan of the edge table; afterwards a lineage query is a networkx BFS. ``graph.traverse`` answers
the same questions from the store without loading, and tests hold the two to the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import networkx as nx

from lineagelab.graph.modes import Mode, relations
from lineagelab.graph.types import Direction, NodeKey
from lineagelab.store import queries


@dataclass
class MemoryGraph:
    graph: nx.DiGraph
    mode: Mode

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, mode: Mode = Mode()) -> MemoryGraph:
        with relations(con, mode) as rel:
            g = nx.DiGraph()
            rows = queries.all_io(con, rel)
            g.add_edges_from((NodeKey("dataset", d), NodeKey("job", j)) for d, j, r in rows if r == "input")
            g.add_edges_from((NodeKey("job", j), NodeKey("dataset", d)) for d, j, r in rows if r == "output")
            return cls(g, mode)

    def lineage(self, start: NodeKey, direction: Direction = "both", depth: int | None = 20) -> dict[NodeKey, int]:
        """Node -> signed distance (negative upstream), as ``traverse.table_lineage`` would give."""
        out: dict[NodeKey, int] = {start: 0}
        if start not in self.graph:
            return out
        if direction in ("downstream", "both"):
            for n, d in nx.single_source_shortest_path_length(self.graph, start, cutoff=depth).items():
                out.setdefault(n, d)
        if direction in ("upstream", "both"):
            for n, d in nx.single_source_shortest_path_length(self.graph.reverse(copy=False), start,
                                                              cutoff=depth).items():
                out.setdefault(n, -d)
        return out
