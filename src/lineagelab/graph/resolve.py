"""Turn what a user types (a full identity, a sourceIdentifier, or any unique part of a name) into a node."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from lineagelab.events.identity import dataset_key, job_key
from lineagelab.graph.types import WHOLE_ROW, NodeKey
from lineagelab.store import queries
from lineagelab.store.queries import NodeKind


@dataclass(frozen=True)
class Node:
    kind: NodeKind
    id: int
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return dataset_key(self.namespace, self.name) if self.kind == "dataset" else job_key(self.namespace, self.name)

    @property
    def nx_id(self) -> NodeKey:
        """The node's key in lineage graphs."""
        return NodeKey(self.kind, self.id)


@dataclass(frozen=True)
class NodeRef:
    node: Node
    column: str | None = None


class NodeNotFound(LookupError):
    pass


class ColumnNotFound(NodeNotFound):
    """A column the node never had: a typo must not answer like a column nothing depends on."""

    def __init__(self, node: Node, column: str, columns: list[str]):
        self.columns = columns
        close = [c for c in columns if c.lower() == column.lower()]
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        shown = ", ".join(columns[:40]) + (f", … ({len(columns)} in all)" if len(columns) > 40 else "")
        known = f"its columns: {shown}" if columns else "no column of it is known"
        super().__init__(f"{node.key} has no column {column!r}; {hint}{known}")


def glue_display(name: str) -> str:
    """``db.table`` for a Glue table's ARN name ``table/db/table``."""
    return name.removeprefix("table/").replace("/", ".")


def display_names(con: duckdb.DuckDBPyConnection, ds_ids: list[int]) -> dict[int, str]:
    """The names users know datasets by, where it is not their key: a Glue catalog table's ``db.table``."""
    return {i: glue_display(n) for i, n in queries.glue_tables(con, ds_ids).items()} if ds_ids else {}


class AmbiguousNode(LookupError):
    def __init__(self, text: str, candidates: list[Node]):
        self.candidates = candidates
        shown = "\n".join(f"  {c.kind:7} {c.key}" for c in candidates[:20])
        more = f"\n  … and {len(candidates) - 20} more" if len(candidates) > 20 else ""
        super().__init__(f"{text!r} matches {len(candidates)} nodes; give more of the name:\n{shown}{more}")


_SEGMENTS = re.compile(r"[/.:]")


def _candidates(con: duckdb.DuckDBPyConnection, text: str) -> list[tuple[int, Node]]:
    """(tier, node) pairs: 0 exact identity, 1 exact last name segment, 2 substring. Aliases map to canonical."""
    low = text.lower()
    rows = queries.node_candidates(con, low)
    out: list[tuple[int, Node]] = []
    for kind, node_id, cns, cname, ns, name in rows:
        full = {dataset_key(ns, name).lower(), f"{ns}:{name}".lower()} if kind == "dataset" else {
            job_key(ns, name).lower(), name.lower()}
        if kind == "dataset" and ns.startswith("arn:aws:glue:") and name.startswith("table/"):
            full.add(glue_display(name).lower())
        last = _SEGMENTS.split(name.strip("/"))[-1].lower() if name.strip("/") else name.lower()
        tier = 0 if low in full else 1 if low == last else 2
        out.append((tier, Node(kind, node_id, cns, cname)))
    return out


def _distinct(nodes: list[Node]) -> list[Node]:
    return sorted({(n.kind, n.id): n for n in nodes}.values(), key=lambda n: (n.kind, n.key))


def resolve(con: duckdb.DuckDBPyConnection, text: str) -> NodeRef:
    """Resolve ``NODE`` or ``NODE::column``."""
    column = None
    if "::" in text:
        text, column = text.rsplit("::", 1)
        if not column:
            raise NodeNotFound("empty column name after '::'")
    text = text.strip()
    if not text:
        raise NodeNotFound("empty node reference")
    cands = _candidates(con, text)
    for tier in (0, 1, 2):
        nodes = _distinct([n for t, n in cands if t == tier])
        if len(nodes) == 1:
            if column is not None:
                _check_column(con, nodes[0], column)
            return NodeRef(nodes[0], column)
        if len(nodes) > 1:
            raise AmbiguousNode(text, nodes)
    raise NodeNotFound(f"no dataset or job matches {text!r}")


def _check_column(con: duckdb.DuckDBPyConnection, node: Node, column: str) -> None:
    if node.kind != "dataset":
        raise NodeNotFound(f"{node.key} is a job: only datasets have columns")
    if column == WHOLE_ROW:
        return
    columns = queries.dataset_columns(con, node.id)
    if column not in columns:
        raise ColumnNotFound(node, column, columns)


def describe(con: duckdb.DuckDBPyConnection, kind: NodeKind, ids: list[int]) -> dict[int, Node]:
    if not ids:
        return {}
    found = {i: Node(kind, i, ns, name) for i, ns, name in queries.names(con, kind, ids)}
    for i in ids:  # ids known only from edges (never observed directly): keep them visible
        found.setdefault(i, Node(kind, i, "?", str(i)))
    return found
