"""SQL lineage without a database: ``sql lineage``."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lineagelab.cli.shared import UserError, err, out, read_text

if TYPE_CHECKING:
    from lineagelab.sql.lineage import Source, Statement


def _sources(sources: Mapping[Source, tuple[str, str]]) -> list[dict[str, str]]:
    return [{"table": src.table, "column": src.column, "type": t[0], "subtype": t[1]}
            for src, t in sorted(sources.items())]


def statement_data(s: Statement) -> dict[str, Any]:
    """One analysed statement as ``--format json`` prints it (and the table view reads it)."""
    return {"statement": s.index + 1, "line": s.line, "kind": s.kind, "inputs": s.inputs, "outputs": s.outputs,
            "error": s.error,
            "columns": [{"target": c.target, "sources": _sources(c.sources)} for c in s.columns],
            "dataset": _sources(s.dataset)}


def lineage(
    file: Annotated[Path, typer.Argument(help="A .sql file (- for standard input).")],
    dialect: Annotated[str, typer.Option(help="sqlglot dialect of the SQL.")] = "redshift",
    catalog: Annotated[Path | None, typer.Option(help="JSON {schema: {table: {column: type}}} to expand *.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or openlineage")] = "table",
    workgroup: Annotated[str, typer.Option(help="Redshift workgroup (for --format openlineage names).")]
    = "default-workgroup",
    database: Annotated[str, typer.Option(help="Redshift database (for names).")] = "dev",
    account: Annotated[str, typer.Option(help="AWS account (for names).")] = "123456789012",
    region: Annotated[str, typer.Option(help="AWS region (for names).")] = "us-west-2",
) -> None:
    """Table- and column-level lineage of every statement of a SQL file, without running it."""
    from lineagelab.sql.lineage import analyze

    text = sys.stdin.read() if str(file) == "-" else read_text(file)
    cat = None
    if catalog is not None:
        try:
            cat = json.loads(read_text(catalog))
        except ValueError as exc:
            raise UserError(f"--catalog {catalog}: not JSON: {exc}") from None
    stmts = analyze(text, dialect, cat)
    failed = [s for s in stmts if s.error]
    for s in failed:
        err.print(f"error: {file}: {s.error}")
    if fmt == "openlineage":
        from datetime import UTC, datetime

        from lineagelab.sql.redshift import DATA_KINDS, Target, statement_events

        target = Target(workgroup=workgroup, database=database, account=account, region=region)
        now = datetime.now(UTC)
        for s in stmts:
            if not s.error and s.kind in DATA_KINDS:
                for e in statement_events(None, s, target, now, now, f"{file}/{s.index}/{s.sql}"):
                    out.print(json.dumps(e), soft_wrap=True)
    elif fmt == "json":
        out.print(json.dumps([statement_data(s) for s in stmts], indent=2))
    else:
        from lineagelab.graph.tables import statement_tables, without_lineage

        data = [statement_data(s) for s in stmts]
        for table in statement_tables(data):
            out.print(table)
        quiet = without_lineage(data)
        if quiet:
            out.print(f"{len(quiet)} statement(s) without lineage: "
                      + ", ".join(f"{s['statement']} (line {s['line']}, {s['kind']})" for s in quiet))
    if failed:
        raise typer.Exit(1)
