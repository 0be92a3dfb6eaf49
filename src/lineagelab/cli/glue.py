"""AWS Glue on local Spark: ``glue run-job``, ``glue notebook``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lineagelab.cli import spark
from lineagelab.cli.shared import UserError, key_values, load_profile


def run_job(
    script: Annotated[Path, typer.Argument(help="The Glue job's Python script.")],
    job_name: Annotated[str, typer.Option("--job-name", help="The Glue job's name (JOB_NAME).")],
    arg: Annotated[list[str] | None, typer.Option("--arg", help="Job argument KEY=VALUE (as --KEY VALUE).")] = None,
    conf: Annotated[list[str] | None, typer.Option("--conf", help="Extra Spark conf KEY=VALUE.")] = None,
    connections: Annotated[Path | None, typer.Option(help="Glue connections file (TOML or JSON).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
    no_lineage: Annotated[bool, typer.Option("--no-lineage", help="Turn 'Generate lineage events' off.")] = False,
) -> None:
    """Run a Glue 5.0 job script unchanged on local Spark with "Generate lineage events" on."""
    from lineagelab.spark_local import jobs

    argv = jobs.glue_job_argv(job_name, key_values(arg or [], "--arg"))
    extra = jobs.glue_job_conf(job_name, key_values(conf or [], "--conf"), lineage=not no_lineage)
    spark.run_job(script, app_name=job_name, preset="glue5", argv=argv, conf=extra, connections=connections,
                  profile=profile, glue_globals=True, environ={"JOB_NAME": job_name})


def notebook(
    notebook: Annotated[Path, typer.Argument(help="A .ipynb, or a .py with %%configure / %magic cells.")],
    connections: Annotated[Path | None, typer.Option(help="Glue connections file (TOML or JSON).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Run a Glue interactive notebook's cells in order; its %%configure sets the lineage conf."""
    from lineagelab.spark_local import runner

    prof = load_profile(profile)
    try:
        script = runner.read_script(notebook, prof.account)
    except (FileNotFoundError, ValueError) as exc:
        raise UserError(str(exc)) from None
    name = script.conf.get("spark.glue.JOB_NAME") or notebook.stem
    spark.run_job(notebook, app_name=name, preset="glue5", argv=["--JOB_NAME", name], conf={},
                  connections=connections, profile=profile, glue_globals=True, environ={"JOB_NAME": name})
