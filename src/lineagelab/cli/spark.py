"""Running a job script on local Spark for the capture commands (``glue``, ``emr-serverless``): progress while it
runs, then a few lines of report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

if TYPE_CHECKING:
    from lineagelab.spark_local.jobs import Delivered

from lineagelab.cli.shared import UserError, err, lake_root, load_profile, out, settings, store_events


def run_job(script_path: Path, *, app_name: str, service: str, argv: Sequence[str], conf: dict[str, str],
            connections: Path | None, profile: Path | None, glue_globals: bool,
            environ: Mapping[str, str] | None = None) -> None:
    """Run a script on local Spark on the preset the profile's Glue version or EMR release names (``service``: glue
    or emr), deliver its events (to the store by default) and report in a few lines."""
    from lineagelab.spark_local import jobs, runner, session

    prof = load_profile(profile)
    if prof.path is None:  # no profile file: the lake beside the store, as `lake put` uses it
        prof.lake = lake_root()
    preset = session.preset_for(service, prof)
    conf = session.job_conf(preset, conf)  # Glue 6.1+ / EMR spark 8.2+ capture into the Glue lineage API unasked
    try:
        job = jobs.prepare(script_path, prof, conf, connections)
    except jobs.JobError as exc:
        raise UserError(str(exc)) from None
    home = Path(settings.store).parent if settings.store else None
    with err.status(f"running {script_path.name} on local Spark ({preset})", spinner="dots"):
        result = jobs.run(job, app_name=app_name, preset=preset, argv=argv, conf=conf, home=home,
                          glue_globals=glue_globals, environ=environ)
    for note in result.notes:
        err.print(f"note: {note}")
    for problem in result.capture_errors:
        err.print(f"capture: {problem}")
    delivered = jobs.deliver(job, result.events, f"spark:{app_name}", _store)
    for rej in delivered.rejected[:10]:
        err.print(f"[red]rejected[/red] {escape(str(rej))}", markup=True, highlight=False)
    out.print(f"{script_path.name}: {result.writes} write(s) captured, {len(result.events)} events -> "
              f"{delivered.where} ({result.seconds:.1f} s)")
    for line in _writes(result.events):
        out.print(line)
    if result.error is not None:
        if settings.debug:
            raise result.error
        err.print(f"error: the script failed: {runner.format_error(result.error, job.script.path, result.error_line)}")
        raise typer.Exit(1)


def _store(events: list[dict[str, Any]], source: str) -> Delivered:
    from lineagelab.spark_local.jobs import Delivered

    stored = store_events(events, source)
    return Delivered(stored.where, stored.report.rejected)


def _writes(events: list[dict[str, Any]]) -> list[str]:
    """What each write read and wrote, from its run's last event (COMPLETE or FAIL), one line a write."""
    def names(datasets: Any) -> str:
        return ", ".join(f"{d.get('namespace')}/{d.get('name')}" for d in datasets or ()) or "(nothing)"

    ends = [e for e in events if e.get("outputs") and e.get("eventType") in ("COMPLETE", "FAIL")]
    return [f"  write {n}: {names(e.get('inputs'))} -> {names(e.get('outputs'))} ({e.get('eventType')})"
            for n, e in enumerate(ends, start=1)]
