"""Answers as rich tables, for a terminal (``render`` holds the text, JSON, DOT and Mermaid forms).

Every cell is data: the tables are printed with markup off, so a name holding "[red]" shows as it is."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from lineagelab.graph.render import duration_text, transformation_label
from lineagelab.graph.traverse import Impacted, Lineage
from lineagelab.store.queries_runs import RunSummary


def lineage_tables(lin: Lineage) -> list[Table]:
    """The nodes of a lineage answer by depth (with the columns feeding each column node), then its column edges."""
    g = lin.graph
    table = Table(title=f"lineage ({lin.direction}, {lin.mode}, depth {lin.depth})", title_justify="left")
    table.add_column("depth", justify="right")
    table.add_column("kind")
    table.add_column("node", overflow="fold")
    table.add_column("via", overflow="fold")
    for n, d in sorted(g.nodes(data=True), key=lambda x: (x[1].get("depth", 0), x[1].get("key", ""))):
        via = []
        for a, b, e in list(g.in_edges(n, data=True)) + list(g.out_edges(n, data=True)):
            if "transformations" in e and b == n:
                source = str(g.nodes[a].get("dataset", "")).rsplit("/", 1)[-1]
                via.append(f"{source}.{g.nodes[a].get('field')}: {transformation_label(e['transformations'])}")
        shown = d.get("key", str(n)) + (f" ({d['label']})" if d.get("label") else "")
        # sorted: the edges come in the order the store's rows did, which differs between equal stores
        table.add_row(str(d.get("depth", "")), d.get("kind", ""), shown, "\n".join(sorted(via)))
    if not lin.column_edges:
        return [table]
    ct = Table(title="column lineage", title_justify="left")
    ct.add_column("source", overflow="fold")
    ct.add_column("target", overflow="fold")
    ct.add_column("transformation")
    names = {n[1]: d.get("key") for n, d in g.nodes(data=True) if n[0] == "dataset"}
    for e in sorted(lin.column_edges, key=lambda e: (str(names.get(e["target"][1])), e["target"][2],
                                                     str(names.get(e["source"][1])), e["source"][2])):
        ct.add_row(f"{names.get(e['source'][1])}::{e['source'][2]}",
                   f"{names.get(e['target'][1])}::{e['target'][2]}",
                   transformation_label(e["transformations"]))
    return [table, ct]


def impact_table(items: Sequence[Impacted], title: str) -> Table:
    """What depends on a node (or what it depends on), nearest first, with the path to each."""
    table = Table(title=title, title_justify="left")
    table.add_column("dist", justify="right")
    table.add_column("kind")
    table.add_column("node", overflow="fold")
    table.add_column("path", overflow="fold")
    for i in items:
        table.add_row(str(i.distance), i.kind, i.key + (f" ({i.label})" if i.label else ""),
                      " → ".join(i.path[1:-1]) or "(direct)")
    return table


def stats_table(stats: Mapping[str, Any]) -> Table:
    """The store's figures, one a line, integers with thousands separators."""
    table = Table(show_header=False, box=None)
    for k, v in stats.items():
        table.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v))
    return table


LEDGER_COLUMNS = ("target", "events", "sent", "failed", "in_flight", "processed", "last_update")


def ledger_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """The replay ledger's summary, one row per target."""
    t = Table(title="replay ledger", title_justify="left")
    for col in LEDGER_COLUMNS:
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(*(str(r[c]) for c in LEDGER_COLUMNS))
    return t


def runs_table(rows: Sequence[RunSummary]) -> Table:
    """Runs newest first; the id column shows the 8 characters ``diff --runs`` takes as a prefix."""
    t = Table(title="runs", title_justify="left")
    for col in ("run", "job", "state", "started", "duration"):
        t.add_column(col, overflow="fold", justify="right" if col == "duration" else "left")
    t.add_column("inputs → outputs", overflow="fold")
    for r in rows:
        io = f"{', '.join(r.inputs) or '-'} → {', '.join(r.outputs) or '-'}" if r.inputs or r.outputs else ""
        t.add_row(r.run_key[:8], r.job or "?", r.state,
                  r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "-",
                  duration_text(r.duration_ms), io)
    return t


def without_lineage(statements: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The analysed statements that moved no data (DDL, SET, GRANT…): listed in one line, not a table each."""
    return [s for s in statements if not s["error"] and not s["inputs"] and not s["dataset"]
            and not any(c["sources"] for c in s["columns"])]


def statement_tables(statements: Sequence[Mapping[str, Any]]) -> list[Table]:
    """One table per analysed SQL statement with lineage (as ``sql lineage --format json`` gives them; failed
    ones and those without lineage are left out): each target column with its sources, then the columns every row
    depends on."""
    tables = []
    skip = {id(s) for s in without_lineage(statements)}
    for s in statements:
        if s["error"] or id(s) in skip:
            continue
        t = Table(title=f"statement {s['statement']} (line {s['line']}): {s['kind']} "
                        f"{', '.join(s['inputs']) or '-'} -> {', '.join(s['outputs']) or '-'}", title_justify="left")
        t.add_column("column")
        t.add_column("source")
        t.add_column("transformation")
        for c in s["columns"]:
            for src in c["sources"]:
                t.add_row(c["target"], f"{src['table']}.{src['column']}", f"{src['type']}/{src['subtype']}")
        for src in s["dataset"]:
            t.add_row("(all rows)", f"{src['table']}.{src['column']}", f"{src['type']}/{src['subtype']}")
        tables.append(t)
    return tables
