"""The server and the viewer: ``serve``, ``ui``, ``export html``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lineagelab.cli.shared import UserError, err, open_store, out, resolve_node, settings

EXPORT_RUNS_HINT = 10_000  # runs in an export beyond which the CLI suggests --max-runs (the served viewer keeps 2,000)


def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 5000,
    token: Annotated[str | None, typer.Option(
        envvar="LINEAGELAB_TOKEN", help="Require Authorization: Bearer TOKEN (or SigV4 with access key TOKEN).",
    )] = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Refuse events that break the OpenLineage spec (default: store them with warnings).")] = False,
) -> None:
    """Serve the OpenLineage collector, the local DataZone lineage API and the viewer API."""
    from lineagelab.cli.remote import answer
    from lineagelab.server.app import serve as run

    err.print(f"lineagelab serving {settings.store or 'the default store'} on http://{host}:{port} "
              f"(OpenLineage: /api/v1/lineage, DataZone: /v2/domains/…, API: /openapi.json)")
    run(settings.store, host, port, token, strict=strict or None, commands=answer)


def ui(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 5000,
    token: Annotated[str | None, typer.Option(envvar="LINEAGELAB_TOKEN", help="Require this bearer token.")] = None,
    open_browser: Annotated[bool, typer.Option("--open/--no-open", help="Open the browser.")] = True,
) -> None:
    """Serve the lineage viewer (and the collector and DataZone API) and open it in the browser."""
    import threading
    import webbrowser

    from lineagelab.cli.remote import answer
    from lineagelab.server import static_ui
    from lineagelab.server.app import serve as run

    if not (static_ui.STATIC / "index.html").is_file():
        raise UserError(str(static_ui.ViewerNotBuilt()))
    url = f"http://{host}:{port}/ui/" + (f"?token={token}" if token else "")
    err.print(f"lineagelab viewer on {url}")
    if open_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    run(settings.store, host, port, token, commands=answer)


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

    with open_store(read_only=True) as store, Progress(
        TextColumn("node details"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err,
        transient=True, disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("details", total=None)
        focus = resolve_node(store.con, node).node if node else None
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
    if len(doc["runs"]) > EXPORT_RUNS_HINT and not max_runs:
        err.print(f"note: {len(doc['runs']):,} runs make a page browsers are slow to open (the served viewer keeps "
                  "2,000); --max-runs 2000 keeps the part around the busiest dataset, or give NODE and --depth")
