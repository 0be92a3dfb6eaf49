"""Replay to AWS: ``replay`` (to a DataZone domain, the Glue lineage API or an OpenLineage HTTP backend) and
``replay status``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lineagelab.cli.remote import served
from lineagelab.cli.shared import UserError, err, open_store, out, time_range

if TYPE_CHECKING:
    from lineagelab.aws_targets import replay as rp
    from lineagelab.aws_targets.mapping import Mapping_


def replay(
    ctx: typer.Context,
    service: Annotated[str, typer.Option(help="datazone (PostLineageEvent to --domain) or glue (the Glue Data "
                                              "Catalog lineage API: RunEvents and DatasetEvents).")] = "datazone",
    domain: Annotated[str | None, typer.Option(help="DataZone domain id (dzd_…).")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region (default: the AWS config's).")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="DataZone or Glue endpoint (e.g. the local server).")]
    = None,
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
    fmt: Annotated[str, typer.Option("--format", help="With --dry-run: table (one row per event) or json (each "
                                                      "event as it would be sent, one JSON line).")] = "table",
    wait_processed: Annotated[float, typer.Option(help="Poll processing status for up to this many seconds.")] = 0.0,
) -> None:
    """Send stored events in eventTime order with a ledger in the store (and, to DataZone, deterministic
    Client-Tokens)."""
    if ctx.invoked_subcommand is not None:
        return
    _send(service=service, domain=domain, region=region, endpoint_url=endpoint_url, to=to, map_file=map_file,
          since=since, until=until, job=job, run=run, dry_run=dry_run, fmt=fmt, wait_processed=wait_processed)


def send(service: str, domain: str | None, region: str | None, endpoint_url: str | None, to: str | None,
         map_file: Path | None, since: str | None, until: str | None, job: str | None, run: str | None,
         dry_run: bool, fmt: str, wait_processed: float) -> None:
    """``replay`` itself, on its options alone: what the server holding the store runs for a client (with the
    client's AWS settings and profile, see ``remote.applied``)."""
    from lineagelab import profile
    from lineagelab.aws_targets import mapping as mp
    from lineagelab.aws_targets import replay as rp

    try:  # the project profile (--map, $LINEAGELAB_PROFILE, ./lineagelab.toml) names the AWS twins of local endpoints
        mapping = mp.for_profile(profile.load(map_file, what="mapping profile"))
    except profile.ProfileError as exc:
        raise UserError(str(exc)) from None
    first, last = time_range(since, until, "--since", "--until")
    filters: dict[str, Any] = {"since": first, "until": last, "job": job, "run": run}
    chosen = rp.SERVICES.get(service)
    if chosen is None:
        raise UserError(f"--service {service!r} is not one of {', '.join(rp.SERVICES)}")
    if fmt not in ("table", "json"):
        raise UserError(f"--format {fmt!r} is not table or json")
    if dry_run:
        _dry_run(mapping, filters, chosen, fmt)
        return
    if service == "glue" and (domain is not None or to is not None):
        raise UserError("--service glue takes no --domain and no --to: give --endpoint-url or --region")
    if service == "datazone" and (domain is None) == (to is None):
        raise UserError("give --domain dzd_… (DataZone) or --to URL (OpenLineage HTTP), one of them")
    if domain is not None and not domain.startswith(("dzd_", "dzd-")):
        raise UserError(f"--domain {domain!r} is not a DataZone domain id (dzd_…)")
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    try:
        sender = rp.open_target(domain=domain, to=to, region=region, endpoint_url=endpoint_url, service=service)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with open_store(read_only=False) as store:
        total = sum(1 for _, kind, _ in rp.select_events(store, **filters) if kind in chosen.kinds)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err, transient=True, disable=not err.is_terminal) as progress:
            task = progress.add_task(f"replaying to {sender.target}", total=total)
            try:
                report = rp.replay(store, sender, mapping, **filters, wait_processed=wait_processed,
                                   progress=lambda n: progress.advance(task, n), service=chosen)
            except KeyboardInterrupt:
                err.print("interrupted: what was acknowledged is in the ledger; run the same command to resume")
                raise typer.Exit(130) from None
            except Exception as exc:
                raise UserError(f"replay to {sender.target} stopped: {type(exc).__name__}: {exc} "
                                f"(acknowledged events are in the ledger; run again to resume)") from None
    selected = (f"{report.selected} RunEvents selected" if chosen.kinds == ("RunEvent",) else
                f"{report.selected} events selected ("
                + ", ".join(f"{report.kinds.get(k, 0)} {k}s" for k in chosen.kinds) + ")")
    out.print(f"replay to {sender.target}: {selected}, {report.sent} sent, "
              f"{report.already_sent} already sent, {len(report.failed)} failed, {len(report.refused)} refused, "
              f"{report.skipped_not_run_events} other events skipped, {report.trimmed} trimmed to fit; "
              f"{report.seconds:.1f}s ({report.sent / max(report.seconds, 1e-9):,.0f} events/s)")
    if report.resumed and sender.idempotent:
        err.print(f"resumed {report.resumed} events an earlier replay left in flight (sent again under their "
                  "Client-Tokens)")
    elif report.resumed:
        err.print(f"resumed {report.resumed} events an earlier replay left in flight: sent again ({service} has no "
                  "client token: where the first request had arrived, the target holds it twice unless it stores "
                  "an identical event once, as lineagelab serve does)")
    for event_id, why in (report.failed + report.refused)[:20]:
        err.print(f"  {event_id}: {why}")
    if report.failed or report.refused:
        raise typer.Exit(1)


_send = served(send, writes=True)  # the ledger is in the store


def _dry_run(mapping: Mapping_, filters: dict[str, Any], service: rp.Service, fmt: str) -> None:
    """Each event as it would be sent: a table row (event, job, outputs, source identifiers, size), or one JSON
    line with its token, what preparing it found and the body."""
    from rich.table import Table

    from lineagelab.aws_targets import replay as rp

    table = Table(title=f"dry run: what {service.name} would receive", title_justify="left")
    for name in ("event", "job", "outputs", "source identifiers", "size"):
        table.add_column(name, justify="right" if name == "size" else "left", overflow="fold")

    counts = {"run": 0, "other": 0, "problems": 0, "trimmed": 0}
    with open_store(read_only=True) as store:
        for event_id, kind, raw in rp.select_events(store, **filters):
            if kind not in service.kinds:
                counts["other"] += 1
                continue
            counts["run"] += 1
            p = rp.prepare(event_id, raw, mapping, service)
            counts["problems"] += bool(p.problem)
            counts["trimmed"] += bool(p.dropped)
            ids = rp.source_identifiers(p.doc)
            if fmt == "json":
                info = {"event_id": event_id, "client_token": p.token, "bytes": len(p.body),
                        "dropped_facets": p.dropped, "problem": p.problem, "source_identifiers": ids, "event": p.doc}
                out.print(json.dumps(info), soft_wrap=True)
                continue
            table.add_row(*_dry_run_row(event_id, p.doc, ids, len(p.body), p.problem, p.dropped))
    if fmt == "table":
        out.print(table)
    what = "RunEvents" if service.kinds == ("RunEvent",) else " and ".join(f"{k}s" for k in service.kinds)
    err.print(f"dry run: {counts['run']} {what} would be sent ({counts['problems']} with problems, "
              f"{counts['trimmed']} trimmed to fit {service.limit:,} {service.unit}); {counts['other']} other events "
              "skipped")
    if counts["problems"]:
        raise typer.Exit(1)


def _dry_run_row(event_id: str, doc: dict[str, Any], ids: dict[str, list[str]], size: int, problem: str | None,
                 dropped: list[str]) -> tuple[str, ...]:
    job = doc.get("job") or {}
    outputs = [f"{d.get('namespace', '')}/{d.get('name', '')}" for d in doc.get("outputs") or []]
    if isinstance(doc.get("dataset"), dict):
        outputs = [f"{doc['dataset'].get('namespace', '')}/{doc['dataset'].get('name', '')}"]
    # the datasets' identifiers: the job's and run's repeat the job column
    notes = ([f"problem: {problem}"] if problem else []) + ([f"trimmed: {', '.join(dropped)}"] if dropped else [])
    datasets = [i for side in ("dataset", "inputs", "outputs") for i in ids.get(side, [])]
    job_name = f"{job.get('namespace', '')}.{job.get('name', '')}" if job else ""
    return (f"{doc.get('eventType', 'DatasetEvent')} {event_id}", job_name, "\n".join(outputs), "\n".join(datasets),
            "\n".join([f"{size:,} B", *notes]))


def status() -> None:
    """The replay ledger: per target, events sent, failed and in flight."""
    from lineagelab.aws_targets import ledger
    from lineagelab.graph.tables import ledger_table

    with open_store(read_only=True) as store:
        rows = ledger.summary(store.con)
        fails = {r["target"]: ledger.failures(store.con, r["target"], 5) for r in rows}
    if not rows:
        out.print("no replays yet")
        return
    out.print(ledger_table(rows))
    for target, items in fails.items():
        for event_id, why in items:
            out.print(f"  failed {target} {event_id}: {why}")
