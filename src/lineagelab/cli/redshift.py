"""Redshift SQL on the local PostgreSQL, with lineage: ``redshift run``, ``redshift import-lineage``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lineagelab.cli.shared import UserError, err, lake_root, out, read_text, store_events

if TYPE_CHECKING:
    from lineagelab.sql.redshift import Target

_OPTS = dict(
    workgroup=typer.Option(help="Redshift Serverless workgroup the SQL runs in (for names)."),
    database=typer.Option(help="Redshift database."),
    account=typer.Option(help="AWS account id."),
    region=typer.Option(help="AWS region."),
    pg_dsn=typer.Option("--pg-dsn", help="PostgreSQL standing in; {database} is filled in."),
    pg_database=typer.Option("--pg-database", help="PostgreSQL database name (default: the Redshift database)."),
)


def _target(workgroup: str, database: str, account: str, region: str, pg_dsn: str, pg_database: str | None) -> Target:
    from lineagelab.sql.redshift import Target

    return Target(workgroup=workgroup, database=database, account=account, region=region, dsn=pg_dsn,
                  lake=lake_root(), pg_database=pg_database)


def _statement_log() -> Path:
    """Where the local Redshift logs the statements it ran (``import-lineage`` reads them back)."""
    return lake_root().parent / "redshift" / "statements.ndjson"


@contextmanager
def _postgres_answers(target: Target) -> Iterator[None]:
    """PostgreSQL not answering is one line naming where it was looked for."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        raise UserError(f"PostgreSQL (standing in for Redshift) does not answer at "
                        f"{target.conninfo()}: {str(exc).strip().splitlines()[-1]}") from None


def run(
    file: Annotated[Path, typer.Argument(help="A .sql file of Redshift statements.")],
    workgroup: Annotated[str, _OPTS["workgroup"]] = "default-workgroup",
    database: Annotated[str, _OPTS["database"]] = "dev",
    account: Annotated[str, _OPTS["account"]] = "123456789012",
    region: Annotated[str, _OPTS["region"]] = "us-west-2",
    pg_dsn: Annotated[str, _OPTS["pg_dsn"]] = "postgresql://postgres@127.0.0.1:5432/{database}",
    pg_database: Annotated[str | None, _OPTS["pg_database"]] = None,
    continue_on_error: Annotated[bool, typer.Option("--continue-on-error", help="Go on after a failing statement.")]
    = False,
) -> None:
    """Execute Redshift SQL on PostgreSQL; store one OpenLineage run per statement that moves data."""
    from lineagelab.sql.redshift import run_script

    target = _target(workgroup, database, account, region, pg_dsn, pg_database)
    with _postgres_answers(target):
        report = run_script(read_text(file), target, continue_on_error=continue_on_error, log=_statement_log(),
                            source=str(file))
    ingested = store_events(report.events, str(file)).report
    for e in report.errors:
        err.print(f"error: {e}")
    out.print(f"{report.executed} of {report.statements} statements executed; "
              f"{len(report.events) // 2} lineage runs stored ({ingested.accepted} events)")
    if report.errors:
        raise typer.Exit(1)


def import_lineage(
    workgroup: Annotated[str, _OPTS["workgroup"]] = "default-workgroup",
    database: Annotated[str, _OPTS["database"]] = "dev",
    account: Annotated[str, _OPTS["account"]] = "123456789012",
    region: Annotated[str, _OPTS["region"]] = "us-west-2",
    pg_dsn: Annotated[str, _OPTS["pg_dsn"]] = "postgresql://postgres@127.0.0.1:5432/{database}",
    pg_database: Annotated[str | None, _OPTS["pg_database"]] = None,
) -> None:
    """Emit lineage for the statements the local Redshift executed (like DataZone's "Import data lineage")."""
    from lineagelab.sql.redshift import import_lineage as statements_lineage

    target = _target(workgroup, database, account, region, pg_dsn, pg_database)
    with _postgres_answers(target):
        events = list(statements_lineage(_statement_log(), target))
    report = store_events(events, "statement log").report
    out.print(f"imported {len(events) // 2} statements: {report.accepted} new events, "
              f"{report.duplicates} already stored")
