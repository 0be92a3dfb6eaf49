"""Filling and keeping the store: ``ingest``, ``store stats``, ``store rebuild``, ``export events``."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from lineagelab.cli.shared import TableOrJson, UserError, err, open_store, out, stdout_bytes, store_path, time_range


def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files or directories (recursively), or - for standard input.")],
    strict: Annotated[bool, typer.Option(
        "--strict", help="Validate fully against the OpenLineage spec and stop at the first invalid event; store "
                         "nothing then (default: events that break the spec but can be understood are stored with "
                         "warnings, see `lineagelab warnings`).")] = False,
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
    from lineagelab.server.client import live_server

    if (holder := live_server(store_path())) is not None:  # the server holding the store takes them
        if strict:
            raise UserError(f"--strict needs the store itself, which the server at {holder.url} holds: stop it, or "
                            "start it with --strict")
        _ingest_to_server(paths, holder.url, holder.token)
        return
    from lineagelab.events import leniency

    # strict: this process's validation, and its workers' (they inherit the environment)
    with leniency.strictly() if strict else nullcontext():
        _ingest_here(paths, strict, quiet, workers)


def _ingest_here(paths: list[str], strict: bool, quiet: bool, workers: int | None) -> None:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from lineagelab.ingest.parallel import PreparedBatches, WorkerError

    # the worker processes (for a large input) start first: they import while this process opens the store
    batches = PreparedBatches(paths, workers)
    from lineagelab.store import warnings
    from lineagelab.store.sources import Prepared
    from lineagelab.store.store import StrictStop

    with batches, open_store(read_only=False) as store, Progress(
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

        warned = warnings.counts(store.reader())
        try:
            report = store.ingest(Prepared(batches), strict=strict, progress=advance)
        except StrictStop as exc:
            raise UserError(f"--strict: {exc} (nothing from this ingest was stored)") from None
        except WorkerError as exc:
            raise UserError(f"{exc} (try --workers 1)") from None
        except KeyboardInterrupt:
            err.print(f"interrupted: the {done:,} events committed stay stored (nothing, with --strict); run the same "
                      "command to add the rest", highlight=False)
            raise typer.Exit(130) from None
        now = warnings.counts(store.reader())
    for rej in report.rejected[:50]:
        err.print(f"[red]rejected[/red] {escape(str(rej))}", markup=True, highlight=False)
    if len(report.rejected) > 50:
        err.print(f"… and {len(report.rejected) - 50} more rejected events")
    summary = f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {len(report.rejected)}"
    if now["warnings"] > warned["warnings"]:
        summary += (f", warnings {now['warnings'] - warned['warnings']} in "
                    f"{now['events_with_warnings'] - warned['events_with_warnings']} events (lineagelab warnings)")
    out.print(summary)
    if report.rejected:
        raise typer.Exit(1)


def _ingest_to_server(paths: list[str], url: str, token: str | None) -> None:
    from lineagelab.events.sinks import DeliveryError
    from lineagelab.events.sinks.http import HttpSink, send_batches
    from lineagelab.ingest.reader import read_events

    try:
        with HttpSink(url, token=token, timeout=120) as sink:
            report = send_batches(sink, read_events(paths), err.print)
    except DeliveryError as exc:
        raise UserError(str(exc)) from None
    out.print(f"accepted {report.accepted}, duplicates {report.duplicates}, rejected {report.rejected}")
    if report.rejected:
        raise typer.Exit(1)


def stats(
    fmt: TableOrJson = "table",
) -> None:
    """Counts, size on disk and time range of the store."""
    with open_store(read_only=True) as store:
        figures = store.stats()
    if fmt == "json":
        from lineagelab.graph.render import to_json

        out.print(to_json(figures))
        return
    from lineagelab.graph.tables import stats_table

    out.print(stats_table(figures))


def rebuild() -> None:
    """Drop the derived model and derive it again from the raw events (gives the same model as ingest did)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with open_store(read_only=False) as store, Progress(
        TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,}/{task.total:,} events"),
        TimeElapsedColumn(), console=err, transient=True, disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task("rebuilding", total=store.stats()["events"])
        store.rebuild(progress=lambda n: progress.advance(task, n))
        figures = store.stats()
    out.print(f"rebuilt from {figures['events']:,} events: {figures['datasets']:,} datasets, {figures['jobs']:,} "
              f"jobs, {figures['runs']:,} runs, {figures['column_edges']:,} column edges")


def export_events(
    out_path: Annotated[Path, typer.Argument(metavar="OUT.ndjson", help="File to write (- for standard output).")],
    since: Annotated[str | None, typer.Option(help="Only events at or after this eventTime.")] = None,
    until: Annotated[str | None, typer.Option(help="Only events at or before this eventTime.")] = None,
    job: Annotated[str | None, typer.Option(help="Only events of this job (name or namespace.name).")] = None,
) -> None:
    """Write the raw events back out as NDJSON, re-ingestable as they are."""
    since_t, until_t = time_range(since, until, "--since", "--until")
    with open_store(read_only=True) as store:
        if str(out_path) == "-":
            n = store.export_events(stdout_bytes(), since=since_t, until=until_t, job=job)
        else:
            with out_path.open("wb") as fh:
                n = store.export_events(fh, since=since_t, until=until_t, job=job)
    err.print(f"exported {n} events")
