"""``demo``: the seed's scenarios end to end, then what the lineage shows of them.

Events go through ``store_events`` and the queries through ``remote.call``: with a server holding the store, the
demo stores and asks through it, printing what it prints without one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from lineagelab.cli import queries, remote
from lineagelab.cli.shared import UserError, err, lake_root, open_store, out, settings, store_events, store_home


def demo(
    samples: Annotated[bool, typer.Option(
        "--samples", help="Use the AWS-shaped sample events instead of running the scenarios (no Spark needed).")]
    = False,
) -> None:
    """Run the seed's four scenarios end to end (Glue job and notebook, EMR on local Spark against MariaDB;
    Redshift SQL on PostgreSQL), then print the lineage graph, column lineage across services and history."""
    from lineagelab.simulator import demo as scenarios

    if samples or not scenarios.live_available():
        if not samples:
            err.print("(no Java or pyspark here: showing the AWS-shaped sample events instead)")
        _samples()
        return
    marks: dict[str, str] = {}
    for title, step in scenarios.live_steps(store_home()):
        with err.status(f"{title} …", spinner="dots"):
            try:
                result = step()
            except Exception as exc:
                if settings.debug:
                    raise
                raise UserError(f"demo step '{title}' failed: {type(exc).__name__}: "
                                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}") from None
        stored = ""
        if result.events:
            stored = f" -> stored {store_events(result.events, f'demo:{result.name}').report.accepted}"
        mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        took = f" ({result.seconds:.1f} s)" if result.seconds else ""
        out.print(f"{mark} {escape(title)}: {escape(result.message)}{stored}{took}", markup=True)
        marks[result.name] = result.finished_at.isoformat()
        if not result.ok:
            raise typer.Exit(1)
    _report(scenarios.LIVE_COLUMN)
    out.print("\nHistory: the Glue job's lineage before and after the source lost Salary —")
    remote.call(queries.diff, from_=marks[scenarios.DAY_TWO], to=None, runs=None, fmt="table", fail_on=None)
    out.print("\nNext: `lineagelab ui` (the graph in the browser), `lineagelab export html lineage.html` (one offline "
              "file), `lineagelab replay --domain …` (these events to a real DataZone domain).")


def figures() -> None:
    """The store's line of the demo's report: where it is and what it holds."""
    with open_store(read_only=True) as store:
        stats = store.stats()
    out.print(f"\nstore {stats['path']}: {stats['datasets']} datasets, {stats['jobs']} jobs, {stats['runs']} runs, "
              f"{stats['column_edges']} column edges")


remote.served(figures)  # registered on both sides (the server imports the CLI too), for ``remote.call``


def _report(column: str) -> None:
    """What the demo shows after loading: store figures, the graph, the Glue output's lineage, one column's path."""
    from lineagelab.simulator.demo import GLUE_OUTPUT

    remote.call(figures)
    remote.call(queries.graph, fmt="tree", mode="latest", as_of=None)
    remote.call(queries.lineage, node=GLUE_OUTPUT, upstream=False, downstream=False, both=False, depth=20,
                columns=True, fmt="table", mode="latest", as_of=None)
    out.print("\nOne column across services:")
    remote.call(queries.lineage, node=column, upstream=True, downstream=False, both=False, depth=20, columns=False,
                fmt="table", mode="latest", as_of=None)


def _samples() -> None:
    """The AWS-shaped sample events of the four scenarios (two days), plus the Redshift SQL run live."""
    from lineagelab.simulator import demo as scenarios

    sample, docs = scenarios.write_samples(store_home())
    report = store_events(docs, str(sample)).report
    out.print(f"[bold]Seed scenarios[/bold] (Glue job, Glue notebook, Redshift, EMR Serverless) as AWS emits "
              f"them, from {escape(str(sample))}: accepted {report.accepted}, duplicates {report.duplicates}, "
              f"rejected {len(report.rejected)}", markup=True)
    redshift = scenarios.run_redshift(lake_root())
    if redshift.report is None:
        err.print(f"(skipping the live Redshift scenario: PostgreSQL does not answer: {redshift.skipped})")
    else:
        store_events(redshift.report.events, "redshift")
        out.print(f"[bold]Redshift scenario run live[/bold] on PostgreSQL (database {scenarios.DEMO_PG_DB}): "
                  f"{redshift.report.executed}/{redshift.report.statements} statements, "
                  f"{len(redshift.report.events) // 2} lineage runs"
                  + (f"; errors: {escape(str(redshift.report.errors))}" if redshift.report.errors else ""),
                  markup=True)
    _report(scenarios.SAMPLES_COLUMN)
    out.print("\nHistory: the Glue job dropped a column on day 2 —")
    remote.call(queries.diff, from_=scenarios.SAMPLES_DAYS[0], to=scenarios.SAMPLES_DAYS[1], runs=None, fmt="table",
                fail_on=None)
