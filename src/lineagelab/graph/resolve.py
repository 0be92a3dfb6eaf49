"""Turn what a user types (a full identity, a sourceIdentifier, or any unique part of a name) into a node."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from lineagelab.events.identity import dataset_key, job_key


@dataclass(frozen=True)
class Node:
    kind: str  # "dataset" | "job"
    id: int
    namespace: str
    name: str

    @property
    def key(self) -> str:
        return dataset_key(self.namespace, self.name) if self.kind == "dataset" else job_key(self.namespace, self.name)

    @property
    def nx_id(self) -> tuple[str, int]:
        return (self.kind, self.id)


@dataclass(frozen=True)
class NodeRef:
    node: Node
    column: str | None = None


class NodeNotFound(LookupError):
    pass


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
    rows = con.execute(
        """
        WITH ids AS (
            SELECT ds_id AS id, namespace, name, namespace AS match_ns, name AS match_name FROM datasets
            UNION ALL
            SELECT DISTINCT s.ds_id, d.namespace, d.name, s.alias_namespace, s.alias_name
            FROM f_symlinks s JOIN datasets d ON d.ds_id = s.ds_id
        )
        SELECT 'dataset', coalesce(a.canonical_id, ids.id) AS id, coalesce(c.namespace, ids.namespace),
               coalesce(c.name, ids.name), match_ns, match_name
        FROM ids LEFT JOIN aliases a ON a.member_id = ids.id LEFT JOIN datasets c ON c.ds_id = a.canonical_id
        WHERE contains(lower(match_ns || '/' || match_name), $1) OR contains(lower(match_ns || ':' || match_name), $1)
        UNION ALL
        SELECT 'job', job_id, namespace, name, namespace, name FROM jobs
        WHERE contains(lower(namespace || '.' || name), $1)
        """,
        [low],
    ).fetchall()
    out: list[tuple[int, Node]] = []
    for kind, node_id, cns, cname, ns, name in rows:
        full = {dataset_key(ns, name).lower(), f"{ns}:{name}".lower()} if kind == "dataset" else {
            job_key(ns, name).lower(), name.lower()}
        last = _SEGMENTS.split(name.strip("/"))[-1].lower() if name.strip("/") else name.lower()
        tier = 0 if low in full else 1 if low == last else 2
        out.append((tier, Node(kind, node_id, cns, cname)))
    return out


def _distinct(nodes: list[Node]) -> list[Node]:
    return sorted({n.nx_id: n for n in nodes}.values(), key=lambda n: (n.kind, n.key))


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
            return NodeRef(nodes[0], column)
        if len(nodes) > 1:
            raise AmbiguousNode(text, nodes)
    raise NodeNotFound(f"no dataset or job matches {text!r}")


def describe(con: duckdb.DuckDBPyConnection, kind: str, ids: list[int]) -> dict[int, Node]:
    if not ids:
        return {}
    if kind == "dataset":
        sql = "SELECT ds_id, namespace, name FROM datasets WHERE ds_id IN (SELECT unnest($1::BIGINT[]))"
    else:
        sql = "SELECT job_id, namespace, name FROM jobs WHERE job_id IN (SELECT unnest($1::BIGINT[]))"
    found = {r[0]: Node(kind, r[0], r[1], r[2]) for r in con.execute(sql, [ids]).fetchall()}
    for i in ids:  # ids known only from edges (never observed directly): keep them visible
        found.setdefault(i, Node(kind, i, "?", str(i)))
    return found
