"""Lineage answers as JSON-ready data, Graphviz DOT and Mermaid (the CLI renders tables with rich)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from lineagelab.graph.traverse import COL, Impacted, Lineage
from lineagelab.graph.types import GraphKey, Transformation
from lineagelab.store.queries_runs import RunSummary


def _node_id(node: GraphKey) -> str:
    return str(node)


def transformation_label(ts: Sequence[Transformation]) -> str:
    return ", ".join(t.label() for t in ts)


def lineage_to_dict(lin: Lineage) -> dict[str, Any]:
    g = lin.graph
    nodes = []
    for n, d in sorted(g.nodes(data=True), key=lambda x: (x[1].get("depth", 0), x[1].get("key", ""))):
        item = {"id": _node_id(n), "kind": d.get("kind"), "key": d.get("key"), "depth": d.get("depth")}
        if d.get("kind") == COL:
            item.update(dataset=d.get("dataset"), field=d.get("field"))
        else:
            item.update(namespace=d.get("namespace"), name=d.get("name"))
            item.update({k: d[k] for k in ("label", "parent") if d.get(k)})
        nodes.append(item)
    edges = []
    def edge_key(e: tuple[Any, Any, Any]) -> tuple[str, str]:
        return g.nodes[e[0]].get("key", ""), g.nodes[e[1]].get("key", "")

    for a, b, d in sorted(g.edges(data=True), key=edge_key):
        e: dict[str, Any] = {"source": _node_id(a), "target": _node_id(b)}
        if "transformations" in d:
            e["transformations"] = [t.as_dict(with_job=True) for t in d["transformations"]]
        edges.append(e)
    out: dict[str, Any] = {
        "start": [_node_id(s) for s in lin.start],
        "mode": str(lin.mode),
        "direction": lin.direction,
        "depth": lin.depth,
        "nodes": nodes,
        "edges": edges,
    }
    if lin.column_edges:
        out["column_edges"] = [
            {"source": f"dataset:{e.source.dataset}::{e.source.field}",
             "target": f"dataset:{e.target.dataset}::{e.target.field}",
             "transformations": [t.as_dict(with_job=False) for t in e.transformations]}
            for e in lin.column_edges
        ]
    return out


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(lin: Lineage) -> str:
    g = lin.graph
    lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
    for n, d in g.nodes(data=True):
        shape = {"dataset": "box", "job": "ellipse", "column": "note"}.get(d.get("kind", ""), "box")
        style = ', style="bold"' if n in lin.start else ""
        label = _dot_escape(d.get("key", str(n.as_tuple())))
        lines.append(f'  "{_dot_escape(_node_id(n))}" [label="{label}", shape={shape}{style}];')
    for a, b, d in g.edges(data=True):
        label = transformation_label(d["transformations"]) if "transformations" in d else ""
        attr = f' [label="{_dot_escape(label)}"]' if label else ""
        lines.append(f'  "{_dot_escape(_node_id(a))}" -> "{_dot_escape(_node_id(b))}"{attr};')
    lines.append("}")
    return "\n".join(lines) + "\n"


_MERMAID_UNSAFE = re.compile(r'["<>{}\[\]()|#;`]')


def to_mermaid(lin: Lineage) -> str:
    g = lin.graph
    ids = {n: f"n{i}" for i, n in enumerate(sorted(g.nodes, key=lambda n: str(n.as_tuple())))}  # as when tuples
    lines = ["flowchart LR"]
    for n, d in g.nodes(data=True):
        label = _MERMAID_UNSAFE.sub(lambda m: f"#{ord(m.group(0))};", d.get("key", str(n.as_tuple())))
        open_, close = {"job": ("([", "])"), "column": ("[/", "/]")}.get(d.get("kind", ""), ("[", "]"))
        lines.append(f'  {ids[n]}{open_}"{label}"{close}')
    for a, b, d in g.edges(data=True):
        label = transformation_label(d["transformations"]) if "transformations" in d else ""
        arrow = f' -->|"{_MERMAID_UNSAFE.sub("", label)}"| ' if label else " --> "
        lines.append(f"  {ids[a]}{arrow}{ids[b]}")
    return "\n".join(lines) + "\n"


def duration_text(ms: int | None) -> str:
    if ms is None:
        return "-"
    return f"{ms / 1000:.1f} s" if ms < 60_000 else f"{ms // 60_000} min {ms % 60_000 // 1000} s"


def runs_to_dicts(rows: Sequence[RunSummary]) -> list[dict[str, Any]]:
    """Runs as ``runs --format json`` prints them (times ISO-8601)."""
    return [{"run_id": r.run_key, "job": r.job, "state": r.state,
             "started_at": r.started_at.isoformat() if r.started_at else None,
             "ended_at": r.ended_at.isoformat() if r.ended_at else None, "duration_ms": r.duration_ms,
             "error": r.error, "inputs": list(r.inputs), "outputs": list(r.outputs)} for r in rows]


def impact_to_dict(items: list[Impacted]) -> list[dict[str, Any]]:
    return [{"kind": i.kind, "key": i.key, "distance": i.distance, "path": i.path} for i in items]


def graph_tree(lin: Lineage) -> str:
    """The whole graph as a text tree: every job, then what it reads and writes.

    Plain lines, not a rich Tree: names are data (a "[/b]" in one broke rich's markup), lines are never cropped to the
    terminal's width, and a Tree is several times slower on a large store."""
    g = lin.graph

    def key(n: tuple[str, int]) -> str:
        return str(g.nodes[n].get("key", ""))

    def shown(n: tuple[str, int]) -> str:
        label = g.nodes[n].get("label")
        return f"{key(n)} ({label})" if label else key(n)

    lines = [f"lineage graph ({lin.mode}): {sum(1 for n in g if n[0] == 'job')} jobs, "
             f"{sum(1 for n in g if n[0] == 'dataset')} datasets"]
    # Entries: (text, children). A job's children are its reads and writes; a Spark application's, its write jobs.
    Entry = tuple[str, list[Any]]
    groups: dict[str, list[Entry]] = {}
    top: list[Entry] = []
    for j in sorted((n for n in g if n[0] == "job"), key=key):
        entry: Entry = (key(j), [(f"reads  {shown(n)}", []) for n in sorted(g.predecessors(j), key=key)]
                 + [(f"writes {shown(n)}", []) for n in sorted(g.successors(j), key=key)])
        parent = g.nodes[j].get("parent")
        if parent:
            if parent not in groups:
                groups[parent] = []
                top.append((parent, groups[parent]))
            groups[parent].append(entry)
        else:
            top.append(entry)
    top.sort(key=lambda e: e[0])

    def walk(entries: list[Entry], indent: str) -> None:
        for i, (text, children) in enumerate(entries):
            last = i == len(entries) - 1
            lines.append(indent + ("└── " if last else "├── ") + text)
            walk(children, indent + ("    " if last else "│   "))

    walk(top, "")
    return "\n".join(lines)


def diff_text(result: dict[str, Any]) -> str:
    """A diff (``graph.diff.compare_*``) as lines: ``-`` removed, ``+`` added, ``~`` a column's type changed."""
    from lineagelab.graph.diff import CATEGORIES

    lines = [f"diff {result['from']} → {result['to']}"]
    for cat in CATEGORIES:
        for side, sign in (("removed", "-"), ("added", "+")):
            lines += [f"  {sign} {cat[:-1] if cat.endswith('s') else cat}: {item}" for item in result[cat][side]]
    lines += [f"  ~ column type: {ch['column']}: {ch['from']} → {ch['to']}" for ch in result["schema-changes"]]
    if len(lines) == 1:
        lines.append("  no changes")
    return "\n".join(lines)
