"""``lineagelab warnings``: the deviations from the OpenLineage spec stored events were accepted with."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lineagelab.cli.shared import TableOrJson, UserError, open_store, out


def warnings(
    event: Annotated[str | None, typer.Option(help="Only this event's (its id, or the start of it).")] = None,
    path: Annotated[str | None, typer.Option(help="Only warnings at JSON paths containing this text.")] = None,
    summary: Annotated[bool, typer.Option(
        "--summary", help="One line per JSON path (indexes as [*]) and message, with how many events have it.")
    ] = False,
    limit: Annotated[int, typer.Option(min=0, help="At most this many warnings (0: all).")] = 200,
    fmt: TableOrJson = "table",
) -> None:
    """List the warnings events were stored with: each deviation from the spec, by event and JSON path."""
    from lineagelab.store import warnings as stored

    if fmt not in ("table", "json"):
        raise UserError(f"--format must be table or json, got {fmt!r}")
    with open_store(read_only=True) as store:
        if summary:
            groups = stored.by_path(store.reader())
        else:
            rows = stored.listing(store.reader(), event_id=event, path=path, limit=limit or None)
    from lineagelab.graph.render import to_json

    if summary:
        if fmt == "json":
            out.print(to_json([{"path": p, "message": m, "events": n} for p, m, n in groups]))
            return
        table = Table("events", "path", "message", title="warnings by path", title_justify="left")
        for p, m, n in groups:
            table.add_row(f"{n:,}", escape(p), escape(m))
        out.print(table)
        return
    if fmt == "json":
        out.print(to_json([w.as_dict() for w in rows]))
        return
    if not rows:
        out.print("no warnings")
        return
    table = Table("event", "kind", "job", "path", "message", title="warnings", title_justify="left")
    for column in table.columns[2:]:
        column.overflow = "fold"
    for w in rows:
        table.add_row(w.event_id[:12], w.kind, escape(w.job or ""), escape(w.path), escape(w.message))
    out.print(table)
