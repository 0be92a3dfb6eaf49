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
from rich.markup import escape

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
export_app = typer.Typer(help="Export raw events, or the lineage as one offline HTML file.", no_args_is_help=True)
sql_app = typer.Typer(help="SQL lineage without a database.", no_args_is_help=True)
redshift_app = typer.Typer(help="Run Redshift SQL on the local PostgreSQL, with lineage.", no_args_is_help=True)
lake_app = typer.Typer(help="The local S3 lake: s3://bucket/key lives in .lineagelab/lake/bucket/key.",
                       no_args_is_help=True)
app.add_typer(store_app, name="store")
app.add_typer(export_app, name="export")
app.add_typer(sql_app, name="sql")
app.add_typer(redshift_app, name="redshift")
app.add_typer(lake_app, name="lake")
glue_app = typer.Typer(help="Run AWS Glue jobs and notebooks unchanged on local Spark, with lineage.",
                       no_args_is_help=True)
emr_app = typer.Typer(help="Run EMR Serverless Spark jobs locally, with lineage.", no_args_is_help=True)
services_app = typer.Typer(help="The local services standing in for RDS MySQL and Redshift.", no_args_is_help=True)
app.add_typer(glue_app, name="glue")
app.add_typer(emr_app, name="emr-serverless")
app.add_typer(services_app, name="services")
replay_app = typer.Typer(help="Replay stored RunEvents to a DataZone domain (or an OpenLineage HTTP backend), exactly "
                              "once.", invoke_without_command=True)
app.add_typer(replay_app, name="replay")

# Markup off: what these print is mostly data (names, paths, messages quoting values); the few styled lines ask for
# markup and escape what they quote.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def _emit(text: str) -> None:
    """Machine-readable or long plain output, written as it is: rich takes ~70 ms a MB (a diff of a large store's
    whole history is hundreds of MB)."""
    out.file.write(text if text.endswith("\n") else text + "\n")
    out.file.flush()

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
        typer.Option("--store", envvar="LINEAGELAB_STORE", help="Store file (default: ./.lineagelab/lineage.duckdb)."),
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
    server: Annotated[str | None, typer.Option(
        help="Send to a running `lineagelab serve` (which holds the store) instead of opening the store.")] = None,
    token: Annotated[str | None, typer.Option(envvar="LINEAGELAB_TOKEN", help="Bearer token for --server.")] = None,
    workers: Annotated[int | None, typer.Option(
        min=1, help="Processes that parse and validate large inputs (default: one per core; 1: all in this one).")
    ] = None,
) -> None:
    """Validate OpenLineage events (NDJSON, JSON arrays or documents, gzip) and add them to the store."""
    if server is not None:
        if strict:
            raise UserError("--strict needs the store itself: not with --server")
        _ingest_to_server(paths, server, token)
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lineagelab.ingest.parallel import PreparedBatches, WorkerError

    # the worker processes (for a large input) start first: they import while this process opens the store
    batches = PreparedBatches(paths, workers)
    from lineagelab.store.store import StrictStop

    with batches, _open(read_only=False) as store, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=quiet or not err.is_terminal,
    ) as progress:
        task = progress.add_task("ingesting", total=None)
        plain = not quiet and not err.is_terminal  # logs get one line per committed batch instead of a spinner
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            progress.advance(task, n)
            if plain:
                err.print(f"committed {done:,} events", highlight=False)

        try:
            report = store.ingest_batches(batches, strict=strict, progress=advance)
        except StrictStop as exc:
            raise UserError(f"--strict: {exc} (nothing from this ingest was stored)") from None
        except WorkerError as exc:
            raise UserError(f"{exc} (try --workers 1)") from None
        except KeyboardInterrupt:
            err.print(f"interrupted: the {done:,} events committed stay stored (nothing, with --strict); run the same "
                      "command to add the rest", highlight=False)
            raise typer.Exit(130) from None
    for rej in report.rejected[:50]:
        err.print(f"[red]rejected[/red] {escape(str(rej))}", markup=True, highlight=False)
    if len(report.rejected) > 50:
        err.print(f"… and {len(report.rejected) - 50} more rejected events")
    out.print(f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}")
    if report.rejected:
        raise typer.Exit(1)


def _ingest_to_server(paths: list[str], url: str, token: str | None) -> None:
    """Post events to the server's batch endpoint, 1,000 at a time; it validates and stores them."""
    import json as _json
    import urllib.error
    import urllib.request

    from lineagelab.ingest.reader import read_events

    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def send(batch: list[tuple[str, bytes]]) -> None:
        req = urllib.request.Request(url.rstrip("/") + "/api/v1/lineage/batch", data=b"\n".join(t for _, t in batch),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                body = _json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise UserError(f"server {url} answered {exc.code}: {exc.read().decode(errors='replace')[:300]}") from None
        except OSError as exc:
            raise UserError(f"server {url} does not answer: {exc}") from None
        for r in body["results"]:
            counts[r["status"]] += 1
            if r["status"] == "rejected":
                err.print(f"rejected {batch[r['index']][0]}: {r['path']}: {r['message']}")

    batch: list[tuple[str, bytes]] = []
    for raw in read_events(paths):
        if raw.error is not None:
            counts["rejected"] += 1
            err.print(f"rejected {raw.where}: {raw.error}")
            continue
        batch.append((raw.where, raw.text.replace(b"\n", b" ")))
        if len(batch) >= 1000:
            send(batch)
            batch = []
    if batch:
        send(batch)
    out.print(f"accepted {counts['accepted']}, duplicates {counts['duplicate']}, rejected {counts['rejected']}")
    if counts["rejected"]:
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

        out.print(to_json(stats))
        return
    from rich.table import Table

    table = Table(show_header=False, box=None)
    for k, v in stats.items():
        table.add_row(k.replace("_", " "), f"{v:,}" if isinstance(v, int) else str(v))
    out.print(table)


@store_app.command("rebuild")
def store_rebuild() -> None:
    """Drop the derived model and derive it again from the raw events (gives the same model as ingest did)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with _open(read_only=False) as store, Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("rebuilding", total=store.stats()["events"])
        store.rebuild(progress=lambda n: progress.advance(task, n))
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
        _emit(render.to_json(render.lineage_to_dict(lin)))
    elif fmt == "dot":
        _emit(render.to_dot(lin))
    elif fmt == "mermaid":
        _emit(render.to_mermaid(lin))
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
                    source = str(g.nodes[a].get("dataset", "")).rsplit("/", 1)[-1]
                    via.append(f"{source}.{g.nodes[a].get('field')}: "
                               f"{render.transformation_label(e['transformations'])}")
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
        _emit(render.to_json(render.impact_to_dict(items)))
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
    to: Annotated[str | None, typer.Option("--to", help="Later time (default: now).")] = None,
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

    conditions = [c.strip() for c in fail_on.split(",") if c.strip()] if fail_on else []
    for c in conditions:
        if c not in d.FAIL_ON:
            raise UserError(f"--fail-on {c!r}: choose from {', '.join(d.FAIL_ON)}")
    with _open(read_only=True) as store:
        if runs:
            try:
                result = d.compare_runs(store.con, runs[0], runs[1])
            except d.RunNotFound as exc:
                raise UserError(str(exc)) from None
        else:
            if from_ is None:
                raise UserError("give --from TIME (and optionally --to TIME), or --runs RUN1 RUN2")
            t1 = _time(from_, "--from")
            t2 = _time(to, "--to") if to else datetime.now(UTC)
            result = d.compare_times(store.con, t1, t2)
    if fmt == "json":
        from lineagelab.graph.render import to_json

        _emit(to_json(result))
    else:
        lines = [f"diff {result['from']} → {result['to']}"]
        for cat in d.CATEGORIES:
            for side, sign in (("removed", "-"), ("added", "+")):
                lines += [f"  {sign} {cat[:-1] if cat.endswith('s') else cat}: {item}" for item in result[cat][side]]
        lines += [f"  ~ column type: {ch['column']}: {ch['from']} → {ch['to']}" for ch in result["schema-changes"]]
        if len(lines) == 1:
            lines.append("  no changes")
        _emit("\n".join(lines))
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
    g = lin.graph

    def key(n: tuple[str, int]) -> str:
        return str(g.nodes[n].get("key", ""))

    # Written as plain lines, not a rich Tree: names are data (a "[/b]" in one broke rich's markup), lines are never
    # cropped to the terminal's width, and the 88,000-job bench store's graph took 5.2 s instead of 20.7 s.
    lines = [f"lineage graph ({m}): {sum(1 for n in g if n[0] == 'job')} jobs, "
             f"{sum(1 for n in g if n[0] == 'dataset')} datasets"]
    jobs = sorted((n for n in g if n[0] == "job"), key=key)
    for i, j in enumerate(jobs):
        last_job = i == len(jobs) - 1
        lines.append(("└── " if last_job else "├── ") + key(j))
        items = [f"reads  {key(n)}" for n in sorted(g.predecessors(j), key=key)] + \
                [f"writes {key(n)}" for n in sorted(g.successors(j), key=key)]
        for k, item in enumerate(items):
            lines.append(("    " if last_job else "│   ") + ("└── " if k == len(items) - 1 else "├── ") + item)
    _emit("\n".join(lines))


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


@app.command()
def ui(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    token: Annotated[str | None, typer.Option(envvar="LINEAGELAB_TOKEN", help="Require this bearer token.")] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the browser.")] = True,
) -> None:
    """Serve the lineage viewer (and the collector and DataZone API) and open it in the browser."""
    import threading
    import webbrowser

    from lineagelab.server import static_ui
    from lineagelab.server.app import serve as run

    if not (static_ui.STATIC / "index.html").is_file():
        raise UserError(str(static_ui.ViewerNotBuilt()))
    url = f"http://{host}:{port}/ui/" + (f"?token={token}" if token else "")
    err.print(f"lineagelab viewer on {url}")
    if open_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    run(settings.store, host, port, token)


_EXPORT_RUNS_HINT = 10_000  # runs in an export beyond which the CLI suggests --max-runs (the served viewer keeps 2,000)


@export_app.command("html")
def export_html(
    out_file: Annotated[Path, typer.Argument(metavar="OUT.html", help="The file to write.")],
    node: Annotated[str | None, typer.Argument(help="Focus: a dataset or job (any unique part of its name).")] = None,
    depth: Annotated[int, typer.Option(help="With NODE: keep jobs within this many hops (0: all).")] = 0,
    max_runs: Annotated[int, typer.Option(
        min=0, help="Keep at most this many runs, those of the jobs nearest NODE (without one: the dataset most jobs "
                    "touch), whole hops first (0: all; the served viewer keeps 2,000).")] = 0,
) -> None:
    """Write the viewer and the lineage into one HTML file that opens from disk, offline (no request leaves it)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from lineagelab.graph.bundle import build
    from lineagelab.server import static_ui

    with _open(read_only=True) as store, Progress(
        TextColumn("node details"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
        transient=True, disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("details", total=None)
        focus = _resolve(store.con, node).node if node else None
        doc = build(store.con, focus, depth, progress=lambda done, total: bar.update(task, completed=done,
                                                                                       total=total),
                    max_runs=max_runs)
    try:
        page = static_ui.standalone_html(doc)
    except static_ui.ViewerNotBuilt as exc:
        raise UserError(str(exc)) from None
    out_file.write_text(page, encoding="utf-8")
    part = doc.get("partial")
    out.print(f"wrote {out_file} ({len(page.encode()) / 1e6:.1f} MB): {len(doc['datasets'])} datasets, "
              f"{len(doc['jobs'])} jobs, {len(doc['runs'])} runs" + (f" of {part['totalRuns']}" if part else ""))
    if len(doc["runs"]) > _EXPORT_RUNS_HINT and not max_runs:
        err.print(f"note: {len(doc['runs']):,} runs make a page browsers are slow to open (the served viewer keeps "
                  "2,000); --max-runs 2000 keeps the part around the busiest dataset, or give NODE and --depth")


# -- lake, SQL, Redshift ---------------------------------------------------------------------------------------
def _lake_root() -> Path:
    """The profile's lake when there is a profile file, else ``lake/`` beside the store."""
    from lineagelab.profile import ProfileError, load
    from lineagelab.store.store import default_path

    try:
        prof = load()
    except ProfileError:
        prof = None
    if prof is not None and prof.path is not None:
        return Path(prof.lake)
    return Path(settings.store or default_path()).parent / "lake"


@lake_app.command("put")
def lake_put(
    local: Annotated[Path, typer.Argument(help="A local file or folder.")],
    uri: Annotated[str, typer.Argument(help="s3://bucket/key (a folder key ends with /).")],
) -> None:
    """Copy a file or folder into the local lake under an S3 URI."""
    import shutil

    from lineagelab.profile import lake_path

    if not uri.startswith(("s3://", "s3a://")):
        raise UserError(f"{uri!r} is not an s3:// URI")
    if not local.exists():
        raise UserError(f"{local} does not exist")
    dest = lake_path(_lake_root(), uri)
    if local.is_dir():
        shutil.copytree(local, dest, dirs_exist_ok=True)
    else:
        if uri.endswith("/"):
            dest = dest / local.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, dest)
    out.print(f"{local} -> {uri} ({dest})")


@lake_app.command("ls")
def lake_ls(prefix: Annotated[str, typer.Argument(help="s3://bucket/prefix")] = "") -> None:
    """List the objects in the local lake."""
    root = _lake_root()
    for p in sorted(root.rglob("*")) if root.exists() else []:
        if p.is_file():
            uri = "s3://" + str(p.relative_to(root))
            if uri.startswith(prefix):
                out.print(f"{p.stat().st_size:>12,}  {uri}")


@sql_app.command("lineage")
def sql_lineage(
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
    import json as _json

    from lineagelab.sql.lineage import analyze

    text = sys.stdin.read() if str(file) == "-" else _read_text(file)
    cat = None
    if catalog is not None:
        try:
            cat = _json.loads(_read_text(catalog))
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
                    out.print(_json.dumps(e), soft_wrap=True)
    elif fmt == "json":
        data = [{"statement": s.index + 1, "line": s.line, "kind": s.kind, "inputs": s.inputs, "outputs": s.outputs,
                 "error": s.error,
                 "columns": [{"target": c.target, "sources": [{"table": src.table, "column": src.column,
                                                               "type": t[0], "subtype": t[1]}
                                                              for src, t in sorted(c.sources.items())]}
                             for c in s.columns],
                 "dataset": [{"table": src.table, "column": src.column, "type": t[0], "subtype": t[1]}
                             for src, t in sorted(s.dataset.items())]} for s in stmts]
        out.print(_json.dumps(data, indent=2))
    else:
        from rich.table import Table

        for s in stmts:
            if s.error:
                continue
            t = Table(title=f"statement {s.index + 1} (line {s.line}): {s.kind} "
                            f"{', '.join(s.inputs) or '-'} -> {', '.join(s.outputs) or '-'}", title_justify="left")
            t.add_column("column")
            t.add_column("source")
            t.add_column("transformation")
            for c in s.columns:
                for src, ty in sorted(c.sources.items()):
                    t.add_row(c.target, f"{src.table}.{src.column}", f"{ty[0]}/{ty[1]}")
            for src, ty in sorted(s.dataset.items()):
                t.add_row("(all rows)", f"{src.table}.{src.column}", f"{ty[0]}/{ty[1]}")
            out.print(t)
    if failed:
        raise typer.Exit(1)


def _read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def _target(workgroup: str, database: str, account: str, region: str, pg_dsn: str, pg_database: str | None) -> Any:
    from lineagelab.sql.redshift import Target

    return Target(workgroup=workgroup, database=database, account=account, region=region, dsn=pg_dsn,
                  lake=_lake_root(), pg_database=pg_database)


@contextmanager
def _postgres_answers(target: Any) -> Iterator[None]:
    """PostgreSQL not answering is one line naming where it was looked for."""
    import psycopg

    try:
        yield
    except psycopg.OperationalError as exc:
        raise UserError(f"PostgreSQL (standing in for Redshift) does not answer at "
                        f"{target.conninfo()}: {str(exc).strip().splitlines()[-1]}") from None


_RS_OPTS = dict(
    workgroup=typer.Option(help="Redshift Serverless workgroup the SQL runs in (for names)."),
    database=typer.Option(help="Redshift database."),
    account=typer.Option(help="AWS account id."),
    region=typer.Option(help="AWS region."),
    pg_dsn=typer.Option("--pg-dsn", help="PostgreSQL standing in; {database} is filled in."),
    pg_database=typer.Option("--pg-database", help="PostgreSQL database name (default: the Redshift database)."),
)


@redshift_app.command("run")
def redshift_run(
    file: Annotated[Path, typer.Argument(help="A .sql file of Redshift statements.")],
    workgroup: Annotated[str, _RS_OPTS["workgroup"]] = "default-workgroup",
    database: Annotated[str, _RS_OPTS["database"]] = "dev",
    account: Annotated[str, _RS_OPTS["account"]] = "123456789012",
    region: Annotated[str, _RS_OPTS["region"]] = "us-west-2",
    pg_dsn: Annotated[str, _RS_OPTS["pg_dsn"]] = "postgresql://postgres@127.0.0.1:5432/{database}",
    pg_database: Annotated[str | None, _RS_OPTS["pg_database"]] = None,
    continue_on_error: Annotated[bool, typer.Option("--continue-on-error", help="Go on after a failing statement.")]
    = False,
) -> None:
    """Execute Redshift SQL on PostgreSQL; store one OpenLineage run per statement that moves data."""
    from lineagelab.sql.redshift import run_script

    target = _target(workgroup, database, account, region, pg_dsn, pg_database)
    with _postgres_answers(target):
        report = run_script(_read_text(file), target, continue_on_error=continue_on_error,
                            log=_lake_root().parent / "redshift" / "statements.ndjson", source=str(file))
    with _open(read_only=False) as store:
        ingested = store.ingest_docs(report.events, str(file))
    for e in report.errors:
        err.print(f"error: {e}")
    out.print(f"{report.executed} of {report.statements} statements executed; "
              f"{len(report.events) // 2} lineage runs stored ({ingested.accepted} events)")
    if report.errors:
        raise typer.Exit(1)


@redshift_app.command("import-lineage")
def redshift_import(
    workgroup: Annotated[str, _RS_OPTS["workgroup"]] = "default-workgroup",
    database: Annotated[str, _RS_OPTS["database"]] = "dev",
    account: Annotated[str, _RS_OPTS["account"]] = "123456789012",
    region: Annotated[str, _RS_OPTS["region"]] = "us-west-2",
    pg_dsn: Annotated[str, _RS_OPTS["pg_dsn"]] = "postgresql://postgres@127.0.0.1:5432/{database}",
    pg_database: Annotated[str | None, _RS_OPTS["pg_database"]] = None,
) -> None:
    """Emit lineage for the statements the local Redshift executed (like DataZone's "Import data lineage")."""
    from lineagelab.sql.redshift import import_lineage

    target = _target(workgroup, database, account, region, pg_dsn, pg_database)
    with _postgres_answers(target):
        events = list(import_lineage(_lake_root().parent / "redshift" / "statements.ndjson", target))
    with _open(read_only=False) as store:
        report = store.ingest_docs(events, "statement log")
    out.print(f"imported {len(events) // 2} statements: {report.accepted} new events, "
              f"{report.duplicates} already stored")


# -- replay ---------------------------------------------------------------------------------------------------
@replay_app.callback()
def replay_cmd(
    ctx: typer.Context,
    domain: Annotated[str | None, typer.Option(help="DataZone domain id (dzd_…).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: the AWS config's).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="DataZone endpoint (e.g. the local server).")] = None,
    to: Annotated[str | None, typer.Option(help="Replay to an OpenLineage HTTP backend instead (e.g. Marquez URL).")]
    = None,
    map_file: Annotated[Path | None, typer.Option(
        "--map", help="Local→AWS mapping profile (TOML) (default: ./lineagelab.toml, the project profile, if any).",
    )] = None,
    since: Annotated[str | None, typer.Option(help="Only events at or after this eventTime.")] = None,
    until: Annotated[str | None, typer.Option(help="Only events at or before this eventTime.")] = None,
    job: Annotated[str | None, typer.Option(help="Only this job (name or namespace.name).")] = None,
    run: Annotated[str | None, typer.Option(help="Only this run id.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent, and check it; send nothing.")]
    = False,
    wait_processed: Annotated[float, typer.Option(help="Poll processing status for up to this many seconds.")] = 0.0,
) -> None:
    """Send stored RunEvents in eventTime order with deterministic Client-Tokens and a ledger in the store."""
    if ctx.invoked_subcommand is not None:
        return
    from lineagelab.aws_targets import mapping as mp
    from lineagelab.aws_targets import replay as rp

    if map_file is None and Path("lineagelab.toml").is_file():
        map_file = Path("lineagelab.toml")  # the project profile names the AWS twins of local endpoints
    try:
        mapping = mp.load(map_file)
    except mp.ProfileError as exc:
        raise UserError(str(exc)) from None
    filters = {"since": _time(since, "--since"), "until": _time(until, "--until"), "job": job, "run": run}
    if dry_run:
        _replay_dry_run(mapping, filters)
        return
    if (domain is None) == (to is None):
        raise UserError("give --domain dzd_… (DataZone) or --to URL (OpenLineage HTTP), one of them")
    if domain is not None and not domain.startswith(("dzd_", "dzd-")):
        raise UserError(f"--domain {domain!r} is not a DataZone domain id (dzd_…)")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    sender: rp.Sender = rp.DataZoneSender(domain, region, endpoint_url) if domain else rp.HttpSender(str(to))
    with _open(read_only=False) as store:
        total = sum(1 for _, kind, _ in rp.select_events(store, **filters) if kind == "RunEvent")
        with Progress(TextColumn_(), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
                      transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task(f"replaying to {sender.target}", total=total)
            try:
                report = rp.replay(store, sender, mapping, **filters, wait_processed=wait_processed,
                                   progress=lambda n: progress.advance(task, n))
            except KeyboardInterrupt:
                err.print("interrupted: what was acknowledged is in the ledger; run the same command to resume")
                raise typer.Exit(130) from None
            except Exception as exc:
                raise UserError(f"replay to {sender.target} stopped: {type(exc).__name__}: {exc} "
                                f"(acknowledged events are in the ledger; run again to resume)") from None
    out.print(f"replay to {sender.target}: {report.selected} RunEvents selected, {report.sent} sent, "
              f"{report.already_sent} already sent, {len(report.failed)} failed, {len(report.refused)} refused, "
              f"{report.skipped_not_run_events} other events skipped, {report.trimmed} trimmed to fit; "
              f"{report.seconds:.1f}s ({report.sent / max(report.seconds, 1e-9):,.0f} events/s)")
    for event_id, why in (report.failed + report.refused)[:20]:
        err.print(f"  {event_id}: {why}")
    if report.failed or report.refused:
        raise typer.Exit(1)


def TextColumn_() -> Any:
    from rich.progress import TextColumn

    return TextColumn("{task.description}")


def _replay_dry_run(mapping: Any, filters: dict[str, Any]) -> None:
    import json as _json

    from lineagelab.aws_targets import replay as rp

    counts = {"run": 0, "other": 0, "problems": 0, "trimmed": 0}
    with _open(read_only=True) as store:
        for event_id, kind, raw in rp.select_events(store, **filters):
            if kind != "RunEvent":
                counts["other"] += 1
                continue
            counts["run"] += 1
            p = rp.prepare(event_id, raw, mapping)
            counts["problems"] += bool(p.problem)
            counts["trimmed"] += bool(p.dropped)
            info = {"event_id": event_id, "client_token": p.token, "bytes": len(p.body),
                    "dropped_facets": p.dropped, "problem": p.problem,
                    "source_identifiers": rp.source_identifiers(p.doc), "event": p.doc}
            out.print(_json.dumps(info), soft_wrap=True)
    err.print(f"dry run: {counts['run']} RunEvents would be sent ({counts['problems']} with problems, "
              f"{counts['trimmed']} trimmed to fit 300,000 bytes); {counts['other']} other events skipped")
    if counts["problems"]:
        raise typer.Exit(1)


@replay_app.command("status")
def replay_status() -> None:
    """The replay ledger: per target, events sent, failed and in flight."""
    from rich.table import Table

    from lineagelab.aws_targets import ledger

    with _open(read_only=True) as store:
        rows = ledger.summary(store.con)
        fails = {r["target"]: ledger.failures(store.con, r["target"], 5) for r in rows}
    if not rows:
        out.print("no replays yet")
        return
    t = Table(title="replay ledger", title_justify="left")
    for col in ("target", "events", "sent", "failed", "in_flight", "processed", "last_update"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(*(str(r[c]) for c in ("target", "events", "sent", "failed", "in_flight", "processed",
                                         "last_update")))
    out.print(t)
    for target, items in fails.items():
        for event_id, why in items:
            out.print(f"  failed {target} {event_id}: {why}")


# -- init, services, Glue, EMR ----------------------------------------------------------------------------------
def _profile(path: Path | None = None) -> Any:
    from lineagelab.profile import ProfileError, load

    try:
        return load(path)
    except ProfileError as exc:
        raise UserError(str(exc)) from None


@app.command()
def init(
    account: Annotated[str, typer.Option(help="AWS account id the events name.")] = "123456789012",
    region: Annotated[str, typer.Option(help="AWS region.")] = "us-west-2",
    domain: Annotated[str, typer.Option(help="DataZone domain id.")] = "dzd_xxxxxxxx",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing lineagelab.toml.")] = False,
    path: Annotated[Path, typer.Option(help="Where to write the profile.")] = Path("lineagelab.toml"),
) -> None:
    """Write a project profile: the AWS identity, the endpoints the seed uses and the local services behind them."""
    from lineagelab.profile import init_text, parse

    if path.exists() and not force:
        raise UserError(f"{path} exists (use --force to overwrite)")
    text = init_text(account, region, domain)
    import tomllib

    parse(tomllib.loads(text), path)  # validates account and region before anything is written
    path.write_text(text)
    out.print(f"wrote {path}: account {account}, region {region}, domain {domain}")


@services_app.command("check")
def services_check(
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Say which configured databases answer; exit 1 naming the missing ones."""
    from lineagelab.spark_local.services import check

    prof = _profile(profile)
    if not prof.endpoints:
        raise UserError("the profile lists no [[endpoints]] (run `lineagelab init`)")
    statuses = check(prof)
    for st in statuses:
        out.print(("[green]ok[/green]      " if st.ok else "[red]missing[/red] ") + escape(st.message), markup=True,
                  highlight=False)
    if not all(st.ok for st in statuses):
        raise typer.Exit(1)


@services_app.command("seed")
def services_seed(
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
    mysql_user: Annotated[str, typer.Option(help="MySQL admin user.")] = "root",
    mysql_password: Annotated[str, typer.Option(envvar="LINEAGELAB_MYSQL_PASSWORD", help="MySQL admin password.")]
    = "",
) -> None:
    """Create the seed's source data (MySQL employeedb.employee) and logins on the local services."""
    from lineagelab.spark_local.services import seed

    for line in seed(_profile(profile), (mysql_user, mysql_password)):
        out.print(line)


def _kv(pairs: list[str], flag: str) -> dict[str, str]:
    outd: dict[str, str] = {}
    for p in pairs:
        k, eq, v = p.partition("=")
        if not eq or not k:
            raise UserError(f"{flag} {p!r}: expected KEY=VALUE")
        outd[k.strip()] = v
    return outd


def _run_spark(script_path: Path, *, app_name: str, preset: str, argv: list[str], conf: dict[str, str],
               connections: Path | None, profile: Path | None, glue_globals: bool) -> None:
    """Run a script on local Spark, deliver its events (store by default) and report in a few lines."""
    from lineagelab.spark_local import glue_connections, runner, transport

    prof = _profile(profile)
    if prof.path is None:  # no profile file: the lake beside the store, as `lake put` uses it
        prof.lake = _lake_root()
    conns = glue_connections.load_file(connections) if connections else {}
    try:
        script = runner.read_script(script_path, prof.account)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    try:
        route = transport.route({**script.conf, **conf}, prof.region)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    home = Path(settings.store).parent if settings.store else None
    with err.status(f"running {script_path.name} on local Spark ({preset})", spinner="dots"):
        result = runner.run(script, app_name=app_name, profile=prof, preset=preset, argv=argv, conf=conf,
                            connections=conns, home=home, glue_globals=glue_globals)
    for note in result.notes:
        err.print(f"note: {note}")
    for problem in result.capture_errors:
        err.print(f"capture: {problem}")
    if route.kind == "store":
        with _open(read_only=False) as store:
            report = store.ingest_docs(result.events, f"spark:{app_name}")
        where = f"store {store.path}"
        if report.rejected:
            for rej in report.rejected[:10]:
                err.print(f"[red]rejected[/red] {escape(str(rej))}", markup=True, highlight=False)
    else:
        transport.send(result.events, route)
        where = route.kind + (f" {route.url or route.endpoint or route.location}" if route.kind != "console" else "")
    out.print(f"{script_path.name}: {result.writes} write(s) captured, {len(result.events)} events -> {where} "
              f"({result.seconds:.1f} s)")
    if result.error is not None:
        if settings.debug:
            raise result.error
        err.print(f"error: the script failed: {runner.format_error(result.error, script.path)}")
        raise typer.Exit(1)


@glue_app.command("run-job")
def glue_run_job(
    script: Annotated[Path, typer.Argument(help="The Glue job's Python script.")],
    job_name: Annotated[str, typer.Option("--job-name", help="The Glue job's name (JOB_NAME).")],
    arg: Annotated[list[str] | None, typer.Option("--arg", help="Job argument KEY=VALUE (as --KEY VALUE).")] = None,
    conf: Annotated[list[str] | None, typer.Option("--conf", help="Extra Spark conf KEY=VALUE.")] = None,
    connections: Annotated[Path | None, typer.Option(help="Glue connections file (TOML or JSON).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
    no_lineage: Annotated[bool, typer.Option("--no-lineage", help="Turn 'Generate lineage events' off.")] = False,
) -> None:
    """Run a Glue 5.0 job script unchanged on local Spark with "Generate lineage events" on."""
    import os

    args = _kv(arg or [], "--arg")
    argv = ["--JOB_NAME", job_name] + [x for k, v in args.items() for x in (f"--{k.lstrip('-')}", v)]
    os.environ["JOB_NAME"] = job_name
    extra = {"spark.glue.JOB_NAME": job_name, "spark.app.name": f"nativespark-{job_name}-jr_local",
             "spark.openlineage.facets.custom_environment_variables":
                 "[AWS_DEFAULT_REGION;GLUE_VERSION;GLUE_PYTHON_VERSION;GLUE_COMMAND_CRITERIA;JOB_NAME;]",
             "spark.openlineage.columnLineage.datasetLineageEnabled": "true",
             **_kv(conf or [], "--conf")}
    if not no_lineage:
        extra.setdefault("spark.openlineage.transport.type", "amazon_datazone_api")
    _run_spark(script, app_name=job_name, preset="glue5", argv=argv, conf=extra, connections=connections,
               profile=profile, glue_globals=True)


@glue_app.command("notebook")
def glue_notebook_cmd(
    notebook: Annotated[Path, typer.Argument(help="A .ipynb, or a .py with %%configure / %magic cells.")],
    connections: Annotated[Path | None, typer.Option(help="Glue connections file (TOML or JSON).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Run a Glue interactive notebook's cells in order; its %%configure sets the lineage conf."""
    import os

    from lineagelab.spark_local import runner

    prof = _profile(profile)
    try:
        script = runner.read_script(notebook, prof.account)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    name = script.conf.get("spark.glue.JOB_NAME") or notebook.stem
    os.environ["JOB_NAME"] = name
    _run_spark(notebook, app_name=name, preset="glue5", argv=["--JOB_NAME", name], conf={},
               connections=connections, profile=profile, glue_globals=True)


@emr_app.command("start-job-run")
def emr_start_job_run(
    name: Annotated[str, typer.Option(help="The job run's name.")] = "spark-job",
    entry_point: Annotated[str | None, typer.Option(help="Script path, or s3:// URI in the local lake.")] = None,
    spark_submit_parameters: Annotated[str, typer.Option(help="As EMR takes them: --conf k=v …")] = "",
    job_driver: Annotated[str | None, typer.Option(help="EMR's --job-driver JSON (sparkSubmit).")] = None,
    application_id: Annotated[str | None, typer.Option(help="Accepted for fidelity; not used locally.")] = None,
    execution_role_arn: Annotated[str | None, typer.Option(help="Accepted for fidelity; not used locally.")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Run an EMR Serverless (emr-7.x) Spark job locally; its sparkSubmitParameters set the lineage conf."""
    import json as _json

    from lineagelab.spark_local.session import parse_conf_string

    entry_args: list[str] = []
    if job_driver:
        try:
            submit = _json.loads(job_driver)["sparkSubmit"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"--job-driver: expected {{\"sparkSubmit\": {{\"entryPoint\": …}}}} ({exc})") from None
        entry_point = entry_point or submit.get("entryPoint")
        spark_submit_parameters = spark_submit_parameters or submit.get("sparkSubmitParameters", "")
        entry_args = [str(a) for a in submit.get("entryPointArguments", [])]
    if not entry_point:
        raise UserError("give --entry-point (or --job-driver with sparkSubmit.entryPoint)")
    prof = _profile(profile)
    path = Path(entry_point)
    if entry_point.startswith(("s3://", "s3a://")):
        path = prof.lake / entry_point.split("://", 1)[1].replace("{account_id}", prof.account)
        if not path.exists():
            raise UserError(f"{entry_point}: not in the local lake ({path}); `lineagelab lake put FILE {entry_point}`")
    conf = parse_conf_string(spark_submit_parameters)
    _run_spark(path, app_name=name, preset="emr7", argv=entry_args, conf=conf, connections=None,
               profile=profile, glue_globals=False)


# -- demo -------------------------------------------------------------------------------------------------------
@app.command()
def demo(
    samples: Annotated[bool, typer.Option(
        "--samples", help="Use the AWS-shaped sample events instead of running the scenarios (no Spark needed).")]
    = False,
) -> None:
    """Run the seed's four scenarios end to end (Glue job and notebook, EMR on local Spark against MariaDB;
    Redshift SQL on PostgreSQL), then print the lineage graph, column lineage across services and history."""
    import shutil as _shutil

    live = not samples and _shutil.which("java") is not None
    if live:
        try:
            import pyspark  # noqa: F401
        except ImportError:
            live = False
    if not live:
        if not samples:
            err.print("(no Java or pyspark here: showing the AWS-shaped sample events instead)")
        _demo_samples()
        return
    from lineagelab.simulator.seed_live import steps
    from lineagelab.store.store import default_path

    home = Path(settings.store or default_path()).parent
    marks: dict[str, str] = {}
    for title, step in steps(home):
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
            with _open(read_only=False) as store:
                rep = store.ingest_docs(result.events, f"demo:{result.name}")
            stored = f" -> stored {rep.accepted}"
        mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        took = f" ({result.seconds:.1f} s)" if result.seconds else ""
        out.print(f"{mark} {escape(title)}: {escape(result.message)}{stored}{took}", markup=True)
        marks[result.name] = result.finished_at.isoformat()
        if not result.ok:
            raise typer.Exit(1)
    _demo_report("employee_absence_summary::overtime_hours")
    out.print("\nHistory: the Glue job's lineage before and after the source lost Salary —")
    diff(from_=marks["day 2"], to=None, runs=None, fmt="table", fail_on=None)
    out.print("\nNext: `lineagelab ui` (the graph in the browser), `lineagelab export html lineage.html` (one offline "
              "file), `lineagelab replay --domain …` (these events to a real DataZone domain).")


def _demo_report(column: str) -> None:
    """What the demo shows after loading: store figures, the graph, the Glue output's lineage, one column's path."""
    with _open(read_only=True) as store:
        stats = store.stats()
    out.print(f"\nstore {stats['path']}: {stats['datasets']} datasets, {stats['jobs']} jobs, {stats['runs']} runs, "
              f"{stats['column_edges']} column edges")
    graph(fmt="tree", mode="latest", as_of=None)
    lineage("attendance_with_emp1", upstream=False, downstream=False, both=False, depth=20, columns=True,
            fmt="table", mode="latest", as_of=None)
    out.print("\nOne column across services:")
    lineage(column, upstream=True, downstream=False, both=False, depth=20, columns=False, fmt="table",
            mode="latest", as_of=None)


def _demo_samples() -> None:
    """The AWS-shaped sample events of the four scenarios (two days), plus the Redshift SQL run live."""
    import orjson

    from lineagelab.ingest.reader import read_events
    from lineagelab.simulator.seed_samples import sample_events

    with _open(read_only=False) as store:
        sample = store.path.parent / "samples" / "seed_scenarios.ndjson"
        sample.parent.mkdir(parents=True, exist_ok=True)
        sample.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in sample_events()))
        report = store.ingest(read_events([sample]))
        out.print(f"[bold]Seed scenarios[/bold] (Glue job, Glue notebook, Redshift, EMR Serverless) as AWS emits "
                  f"them, from {escape(str(sample))}: accepted {report.accepted}, duplicates {report.duplicates}, "
                  f"rejected {len(report.rejected)}", markup=True)
    _demo_redshift()
    _demo_report("employee_absence_summary::days_absent")
    out.print("\nHistory: the Glue job dropped a column on day 2 —")
    diff(from_="2024-06-01T12:00:00Z", to="2024-06-02T12:00:00Z", runs=None, fmt="table", fail_on=None)


def _demo_redshift() -> None:
    """The seed's Redshift option for real: its SQL on the local PostgreSQL, CSVs loaded from the lake."""
    from importlib import resources

    import psycopg

    from lineagelab.sql.redshift import Target, run_script

    seed = resources.files("lineagelab.simulator") / "seed"
    target = Target(database="dev", pg_database="lineagelab_demo", lake=_lake_root())
    for name in ("attendance.csv", "employees.csv"):
        dest = target.lake / "datazone-123456789012" / "csv" / name
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes((seed / name).read_bytes())
    try:
        with psycopg.connect(target.dsn.format(database="postgres"), autocommit=True, connect_timeout=3) as con:
            con.execute("DROP DATABASE IF EXISTS lineagelab_demo WITH (FORCE)")
        report = run_script((seed / "redshift.sql").read_text(), target, source="seed redshift.sql")
    except psycopg.OperationalError as exc:
        err.print(f"(skipping the live Redshift scenario: PostgreSQL does not answer: "
                  f"{str(exc).strip().splitlines()[-1]})")
        return
    with _open(read_only=False) as store:
        store.ingest_docs(report.events, "redshift")
    out.print(f"[bold]Redshift scenario run live[/bold] on PostgreSQL (database lineagelab_demo): "
              f"{report.executed}/{report.statements} statements, {len(report.events) // 2} lineage runs"
              + (f"; errors: {escape(str(report.errors))}" if report.errors else ""), markup=True)


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


if __name__ == "__main__":
    main()
