"""The ``lineagelab`` command line. Errors are one line (``--debug`` shows the trace); long work shows progress."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from lineagelab.graph.traverse import Lineage
    from lineagelab.store.store import Store

app = typer.Typer(
    help="lineagelab: capture, store, query and replay OpenLineage lineage for AWS analytics — offline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
store_app = typer.Typer(help="Inspect and maintain the lineage store.", no_args_is_help=True)
export_app = typer.Typer(help="Export raw events (and, later, HTML views).", no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(export_app, name="export")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_USAGE, EXIT_DIFF = 2, 3


@dataclass
class Settings:
    store: Path | None = None
    debug: bool = False
    wait: float = 10.0


settings = Settings()


class UserError(Exception):
    """An error whose message is all the user needs."""


@app.callback()
def _global(
    store: Annotated[
        Path | None,
        typer.Option("--store", envvar="LINEAGELAB_STORE", help="Store file [default: ./.lineagelab/lineage.duckdb]."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full trace of an error.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a store another process holds.")] = 10.0,
) -> None:
    settings.store, settings.debug, settings.wait = store, debug, wait


@contextmanager
def _open(read_only: bool) -> Iterator[Store]:
    from lineagelab.store.store import Store

    with Store(settings.store, read_only=read_only, wait=settings.wait) as s:
        yield s


# -- ingest / store / export ----------------------------------------------------------------------------------------
@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files or directories (recursively), or - for standard input.")],
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first invalid event; store nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the summary.")] = False,
) -> None:
    """Validate OpenLineage events (NDJSON, JSON arrays or documents, gzip) and add them to the store."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lineagelab.events.reader import read_events
    from lineagelab.store.store import StrictStop

    with _open(read_only=False) as store, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=quiet or not err.is_terminal,
    ) as progress:
        task = progress.add_task("ingesting", total=None)
        try:
            report = store.ingest(read_events(paths), strict=strict,
                                  progress=lambda n: progress.advance(task, n))
        except StrictStop as exc:
            raise UserError(f"--strict: {exc} (nothing from this ingest was stored)") from None
    for rej in report.rejected[:50]:
        err.print(f"[red]rejected[/red] {rej}", markup=True, highlight=False)
    if len(report.rejected) > 50:
        err.print(f"… and {len(report.rejected) - 50} more rejected events")
    out.print(f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}")
    if report.rejected:
        raise typer.Exit(1)


@store_app.command("stats")
def store_stats(
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Counts, size on disk and time range of the store."""
    with _open(read_only=True) as store:
        stats = store.stats()
    if fmt == "json":
        from lineagelab.graph.render import to_json

        out.print(to_json(stats), markup=False)
        return
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for k, v in stats.items():
        table.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v))
    out.print(table)


@store_app.command("rebuild")
def store_rebuild() -> None:
    """Drop the derived model and derive it again from the raw events (gives the same model as ingest did)."""
    with _open(read_only=False) as store:
        store.rebuild()
        stats = store.stats()
    out.print(f"rebuilt from {stats['events']:,} events: {stats['datasets']:,} datasets, {stats['jobs']:,} jobs, "
              f"{stats['runs']:,} runs, {stats['column_edges']:,} column edges")


def _time(value: str | None, flag: str) -> Any:
    if value is None:
        return None
    from lineagelab.events.identity import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise UserError(f"{flag}: {value!r} is not an ISO-8601 time (e.g. 2024-06-01T10:00:00Z)") from None


@export_app.command("events")
def export_events(
    out_path: Annotated[Path, typer.Argument(metavar="OUT.ndjson", help="File to write (- for standard output).")],
    since: Annotated[str | None, typer.Option(help="Only events at or after this eventTime.")] = None,
    until: Annotated[str | None, typer.Option(help="Only events at or before this eventTime.")] = None,
    job: Annotated[str | None, typer.Option(help="Only events of this job (name or namespace.name).")] = None,
) -> None:
    """Write the raw events back out as NDJSON, re-ingestable as they are."""
    filters = {"since": _time(since, "--since"), "until": _time(until, "--until"), "job": job}
    with _open(read_only=True) as store:
        if str(out_path) == "-":
            n = store.export_events(sys.stdout.buffer, **filters)
        else:
            with out_path.open("wb") as fh:
                n = store.export_events(fh, **filters)
    err.print(f"exported {n} events")


# -- queries ----------------------------------------------------------------------------------------------------
MODE_HELP = (
    "latest (default): each job as its most recent run shows it — what the pipeline does now; "
    "cumulative: every edge ever seen. Table and column answers always use the same mode."
)


def _mode(mode: str, as_of: str | None) -> Any:
    from lineagelab.graph.modes import Mode

    try:
        return Mode.parse(mode, _time(as_of, "--as-of") if as_of else None)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _resolve(con: Any, text: str) -> Any:
    from lineagelab.graph.resolve import AmbiguousNode, NodeNotFound, resolve

    try:
        return resolve(con, text)
    except (NodeNotFound, AmbiguousNode) as exc:
        raise UserError(str(exc)) from None


def _print_lineage(lin: Lineage, fmt: str) -> None:
    from lineagelab.graph import render

    if fmt == "json":
        out.print(render.to_json(render.lineage_to_dict(lin)), markup=False)
    elif fmt == "dot":
        out.print(render.to_dot(lin), markup=False, end="")
    elif fmt == "mermaid":
        out.print(render.to_mermaid(lin), markup=False, end="")
    else:
        from rich.table import Table

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
                    via.append(f"{g.nodes[a].get('field')}: {render.transformation_label(e['transformations'])}")
            table.add_row(str(d.get("depth", "")), d.get("kind", ""), d.get("key", str(n)), "\n".join(via))
        out.print(table)
        if lin.column_edges:
            ct = Table(title="column lineage", title_justify="left")
            ct.add_column("source", overflow="fold")
            ct.add_column("target", overflow="fold")
            ct.add_column("transformation")
            names = {n[1]: d.get("key") for n, d in g.nodes(data=True) if n[0] == "dataset"}
            for e in sorted(lin.column_edges, key=lambda e: (str(names.get(e["target"][1])), e["target"][2])):
                ct.add_row(f"{names.get(e['source'][1])}::{e['source'][2]}",
                           f"{names.get(e['target'][1])}::{e['target'][2]}",
                           render.transformation_label(e["transformations"]))
            out.print(ct)


@app.command()
def lineage(
    node: Annotated[str, typer.Argument(help="Dataset, job or DATASET::column: full identity or a unique part.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Only what it depends on.")] = False,
    downstream: Annotated[bool, typer.Option("--downstream", help="Only what depends on it.")] = False,
    both: Annotated[bool, typer.Option("--both", help="Both directions (the default).")] = False,
    depth: Annotated[int, typer.Option("--depth", min=0, help="Edges to follow (dataset→job→dataset is 2).")] = 20,
    columns: Annotated[bool, typer.Option("--columns", help="Add column-level edges between the datasets.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, json, dot or mermaid")] = "table",
    mode: Annotated[str, typer.Option("--mode", help=MODE_HELP)] = "latest",
    as_of: Annotated[str | None, typer.Option("--as-of", help="The graph as it was at this time.")] = None,
) -> None:
    """Upstream and downstream lineage of a dataset, job or column."""
    if fmt not in ("table", "json", "dot", "mermaid"):
        raise UserError(f"--format {fmt!r}: choose table, json, dot or mermaid")
    if upstream + downstream + both > 1:
        raise UserError("choose one of --upstream, --downstream, --both")
    direction = "upstream" if upstream else "downstream" if downstream else "both"
    m = _mode(mode, as_of)
    from lineagelab.graph.traverse import column_lineage, table_lineage

    with _open(read_only=True) as store:
        ref = _resolve(store.con, node)
        if ref.column is not None:
            lin = column_lineage(store.con, ref, m, direction, depth)
        else:
            lin = table_lineage(store.con, ref.node, m, direction, depth, columns=columns)
        _print_lineage(lin, fmt)


@app.command()
def impact(
    node: Annotated[str, typer.Argument(help="Dataset, job or DATASET::column.")],
    upstream: Annotated[bool, typer.Option("--upstream", help="Root cause: what it depends on.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    mode: Annotated[str, typer.Option("--mode", help=MODE_HELP)] = "latest",
    as_of: Annotated[str | None, typer.Option("--as-of", help="The graph as it was at this time.")] = None,
) -> None:
    """Everything downstream that depends on a node (or upstream with --upstream), with the path to each."""
    from lineagelab.graph import render
    from lineagelab.graph.traverse import impact as run_impact

    m = _mode(mode, as_of)
    with _open(read_only=True) as store:
        ref = _resolve(store.con, node)
        items = run_impact(store.con, ref, m, upstream=upstream)
    if fmt == "json":
        out.print(render.to_json(render.impact_to_dict(items)), markup=False)
        return
    from rich.table import Table

    table = Table(title=f"{'upstream of' if upstream else 'impact of'} {node} ({m})", title_justify="left")
    table.add_column("dist", justify="right")
    table.add_column("kind")
    table.add_column("node", overflow="fold")
    table.add_column("path", overflow="fold")
    for i in items:
        table.add_row(str(i.distance), i.kind, i.key, " → ".join(i.path[1:-1]) or "(direct)")
    out.print(table)
    out.print(f"{len(items)} {'upstream' if upstream else 'dependent'} nodes")


@app.command()
def diff(
    from_: Annotated[str | None, typer.Option("--from", help="Earlier time.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Later time [default: now].")] = None,
    runs: Annotated[tuple[str, str] | None, typer.Option("--runs", help="Compare two runs: RUN1 RUN2.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help="Exit 3 if any of these (comma-separated) occur: removed-edges, removed-columns, "
                          "removed-datasets, removed-jobs, removed-column-edges, added-…, schema-changes, any.",
    )] = None,
) -> None:
    """What changed in the lineage between two times or two runs."""
    from datetime import UTC, datetime

    from lineagelab.graph import diff as d
    from lineagelab.graph.modes import Mode

    conditions = [c.strip() for c in fail_on.split(",") if c.strip()] if fail_on else []
    for c in conditions:
        if c not in d.FAIL_ON:
            raise UserError(f"--fail-on {c!r}: choose from {', '.join(d.FAIL_ON)}")
    with _open(read_only=True) as store:
        if runs:
            try:
                a = d.state_of_run(store.con, d.resolve_run(store.con, runs[0]))
                b = d.state_of_run(store.con, d.resolve_run(store.con, runs[1]))
            except d.RunNotFound as exc:
                raise UserError(str(exc)) from None
        else:
            if from_ is None:
                raise UserError("give --from TIME (and optionally --to TIME), or --runs RUN1 RUN2")
            t1 = _time(from_, "--from")
            t2 = _time(to, "--to") if to else datetime.now(UTC)
            a, b = d.state_at(store.con, Mode("asof", t1)), d.state_at(store.con, Mode("asof", t2))
        result = d.diff(a, b)
    if fmt == "json":
        from lineagelab.graph.render import to_json

        out.print(to_json(result), markup=False)
    else:
        out.print(f"diff {result['from']} → {result['to']}")
        empty = True
        for cat in d.CATEGORIES:
            for side, sign in (("removed", "-"), ("added", "+")):
                for item in result[cat][side]:
                    empty = False
                    out.print(f"  {sign} {cat[:-1] if cat.endswith('s') else cat}: {item}", markup=False)
        for ch in result["schema-changes"]:
            empty = False
            out.print(f"  ~ column type: {ch['column']}: {ch['from']} → {ch['to']}", markup=False)
        if empty:
            out.print("  no changes")
    hits = d.violations(result, conditions)
    if hits:
        err.print(f"lineage guard failed: {', '.join(hits)}")
        raise typer.Exit(EXIT_DIFF)


@app.command()
def graph(
    fmt: Annotated[str, typer.Option("--format", help="tree, json, dot or mermaid")] = "tree",
    mode: Annotated[str, typer.Option("--mode", help=MODE_HELP)] = "latest",
    as_of: Annotated[str | None, typer.Option("--as-of", help="The graph as it was at this time.")] = None,
) -> None:
    """The whole lineage graph: every job with what it reads and writes."""
    from lineagelab.graph.traverse import whole_graph

    m = _mode(mode, as_of)
    with _open(read_only=True) as store:
        lin = whole_graph(store.con, m)
    if fmt != "tree":
        _print_lineage(lin, fmt)
        return
    from rich.tree import Tree

    g = lin.graph
    root = Tree(f"lineage graph ({m}): {sum(1 for n in g if n[0] == 'job')} jobs, "
                f"{sum(1 for n in g if n[0] == 'dataset')} datasets")
    jobs = sorted((n for n in g if n[0] == "job"), key=lambda n: g.nodes[n].get("key", ""))
    for j in jobs:
        branch = root.add(f"[bold]{g.nodes[j].get('key')}[/bold]")
        for src in sorted(g.predecessors(j), key=lambda n: g.nodes[n].get("key", "")):
            branch.add(f"reads  {g.nodes[src].get('key')}", highlight=False)
        for dst in sorted(g.successors(j), key=lambda n: g.nodes[n].get("key", "")):
            branch.add(f"writes {g.nodes[dst].get('key')}", highlight=False)
    out.print(root)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 5000,
    token: Annotated[str | None, typer.Option(
        envvar="LINEAGELAB_TOKEN", help="Require Authorization: Bearer TOKEN (or SigV4 with access key TOKEN).",
    )] = None,
) -> None:
    """Serve the OpenLineage collector, the local DataZone lineage API and the viewer API."""
    from lineagelab.server.app import serve as run

    err.print(f"lineagelab serving {settings.store or 'the default store'} on http://{host}:{port} "
              f"(OpenLineage: /api/v1/lineage, DataZone: /v2/domains/…, API: /openapi.json)")
    run(settings.store, host, port, token)


# -- demo -------------------------------------------------------------------------------------------------------
@app.command()
def demo(
    node: Annotated[str, typer.Option(help="Node whose lineage to print at the end.")] = "attendance_with_emp1",
) -> None:
    """Ingest the seed's four scenarios (bundled sample events) and print the lineage graph."""
    import orjson

    from lineagelab.events.reader import read_events
    from lineagelab.simulator.seed_samples import sample_events

    with _open(read_only=False) as store:
        sample = store.path.parent / "samples" / "seed_scenarios.ndjson"
        sample.parent.mkdir(parents=True, exist_ok=True)
        sample.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in sample_events()))
        report = store.ingest(read_events([sample]))
        out.print(f"[bold]Seed scenarios[/bold] (Glue job, Glue notebook, Redshift, EMR Serverless) from {sample}: "
                  f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}")
        stats = store.stats()
        out.print(f"store {stats['path']}: {stats['datasets']} datasets, {stats['jobs']} jobs, {stats['runs']} runs, "
                  f"{stats['column_edges']} column edges")
    graph(fmt="tree", mode="latest", as_of=None)
    lineage(node, upstream=False, downstream=False, both=False, depth=20, columns=True, fmt="table", mode="latest",
            as_of=None)
    lineage("employee_absence_summary::days_absent", upstream=True, downstream=False, both=False, depth=20,
            columns=False, fmt="table", mode="latest", as_of=None)
    out.print("\nHistory: the Glue job dropped a column on day 2 —")
    diff(from_="2024-06-01T12:00:00Z", to="2024-06-02T12:00:00Z", runs=None, fmt="table", fail_on=None)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        app()
    except UserError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        from lineagelab.store.store import StoreError

        if debug:
            raise
        if isinstance(exc, StoreError):
            err.print(f"error: {exc}", markup=False)
        else:
            err.print(f"error: {type(exc).__name__}: {exc} (run with --debug for the trace)", markup=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
