"""The ``lineagelab`` command line: the typer app wired from one module per command group, and ``main``.

Errors are one line (``--debug`` shows the trace); long work shows progress. The groups' modules only parse
options, call the packages and print; this one says which command is which."""

from __future__ import annotations

import sys

import typer

from lineagelab.cli import (
    demo,
    emr,
    glue,
    project,
    queries,
    redshift,
    replay,
    runs,
    serve,
    shared,
    sql,
    store,
    warnings,
)
from lineagelab.cli.remote import served
from lineagelab.cli.shared import EXIT_USAGE, UserError, err

__all__ = ["app", "main"]


# rich_markup_mode=None everywhere: help in click's plain layout, as typer's rich panels print every flag as taking a
# value (``--dry-run <bool>``).


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


app = typer.Typer(
    help="lineagelab: capture, store, query and replay OpenLineage lineage for AWS analytics — offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
app.callback()(shared.global_options)

# Commands that read the store, and those that write it in place (rebuild, replay's ledger), are ``served``: run by
# the server holding the store when one does (cli/remote.py).
# Commands, then groups, in the order `lineagelab --help` lists them.
app.command("ingest")(store.ingest)
app.command("lineage")(served(queries.lineage))
app.command("impact")(served(queries.impact))
app.command("diff")(served(queries.diff))
app.command("graph")(served(queries.graph))
app.command("runs")(served(runs.runs))
app.command("serve")(serve.serve)
app.command("warnings")(served(warnings.warnings))
app.command("ui")(serve.ui)
app.command("init")(project.init)
app.command("demo")(demo.demo)

store_app = _group("Inspect and maintain the lineage store.")
store_app.command("stats")(served(store.stats))
store_app.command("rebuild")(served(store.rebuild, writes=True))

export_app = _group("Export raw events, or the lineage as one offline HTML file.")
export_app.command("events")(served(store.export_events))
export_app.command("html")(served(serve.export_html))

sql_app = _group("SQL lineage without a database.")
sql_app.command("lineage")(sql.lineage)

redshift_app = _group("Run Redshift SQL on the local PostgreSQL, with lineage.")
redshift_app.command("run")(redshift.run)
redshift_app.command("import-lineage")(redshift.import_lineage)

lake_app = _group("The local S3 lake: s3://bucket/key lives in .lineagelab/lake/bucket/key.")
lake_app.command("put")(project.lake_put)
lake_app.command("ls")(project.lake_ls)

glue_app = _group("Run AWS Glue jobs and notebooks unchanged on local Spark, with lineage.")
glue_app.command("run-job")(glue.run_job)
glue_app.command("notebook")(glue.notebook)
glue_app.command("import-catalog")(glue.import_catalog)
glue_app.command("tables")(glue.tables)

emr_app = _group("Run EMR Serverless Spark jobs locally, with lineage.")
emr_app.command("start-job-run")(emr.start_job_run)

services_app = _group("The local services standing in for RDS MySQL and Redshift.")
services_app.command("check")(project.services_check)
services_app.command("seed")(project.services_seed)

# `replay` sends; `replay status` reads the ledger: the group's callback is the command itself (served in replay.py,
# as the callback's context cannot go to a server).
replay_app = typer.Typer(help="Replay stored RunEvents to a DataZone domain (or an OpenLineage HTTP backend), exactly "
                              "once.", invoke_without_command=True, rich_markup_mode=None)
replay_app.callback()(replay.replay)
replay_app.command("status")(served(replay.status))

for name, group in (("store", store_app), ("export", export_app), ("sql", sql_app), ("redshift", redshift_app),
                    ("lake", lake_app), ("glue", glue_app), ("emr-serverless", emr_app),
                    ("services", services_app), ("replay", replay_app)):
    app.add_typer(group, name=name)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app()
    except UserError as exc:
        err.print(f"error: {exc}")
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        from lineagelab.store.store import StoreError

        if debug:
            raise
        if isinstance(exc, StoreError):
            err.print(f"error: {exc}")
        else:
            err.print(f"error: {type(exc).__name__}: {exc} (run with --debug for the trace)")
        sys.exit(1)
