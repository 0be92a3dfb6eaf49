"""EMR Serverless on local Spark: ``emr-serverless start-job-run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from lineagelab.cli.shared import UserError, load_profile
from lineagelab.cli.spark import run_job


def start_job_run(
    name: Annotated[str, typer.Option(help="The job run's name.")] = "spark-job",
    entry_point: Annotated[str | None, typer.Option(help="Script path, or s3:// URI in the local lake.")] = None,
    spark_submit_parameters: Annotated[str, typer.Option(help="As EMR takes them: --conf k=v …")] = "",
    job_driver: Annotated[str | None, typer.Option(help="EMR's --job-driver JSON (sparkSubmit).")] = None,
    application_id: Annotated[str | None, typer.Option(help="Accepted for fidelity; not used locally.")] = None,
    execution_role_arn: Annotated[str | None, typer.Option(help="Accepted for fidelity; not used locally.")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Run an EMR Serverless (emr-7.x) Spark job locally; its sparkSubmitParameters set the lineage conf."""
    from lineagelab.spark_local.session import parse_conf_string

    entry_args: list[str] = []
    if job_driver:
        try:
            submit = json.loads(job_driver)["sparkSubmit"]
        except (ValueError, KeyError, TypeError) as exc:
            raise UserError(f"--job-driver: expected {{\"sparkSubmit\": {{\"entryPoint\": …}}}} ({exc})") from None
        entry_point = entry_point or submit.get("entryPoint")
        spark_submit_parameters = spark_submit_parameters or submit.get("sparkSubmitParameters", "")
        entry_args = [str(a) for a in submit.get("entryPointArguments", [])]
    if not entry_point:
        raise UserError("give --entry-point (or --job-driver with sparkSubmit.entryPoint)")
    prof = load_profile(profile)
    path = Path(entry_point)
    if entry_point.startswith(("s3://", "s3a://")):
        path = prof.lake / entry_point.split("://", 1)[1].replace("{account_id}", prof.account)
        if not path.exists():
            raise UserError(f"{entry_point}: not in the local lake ({path}); `lineagelab lake put FILE {entry_point}`")
    conf = parse_conf_string(spark_submit_parameters)
    run_job(path, app_name=name, service="emr", argv=entry_args, conf=conf, connections=None, profile=profile,
            glue_globals=False)
