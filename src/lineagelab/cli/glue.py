"""AWS Glue on local Spark: ``glue run-job``, ``glue notebook``, and the local Data Catalog (``glue import-catalog``,
``glue tables``)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from lineagelab.cli import spark
from lineagelab.cli.shared import UserError, err, key_values, lake_root, load_profile, out, settings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from lineagelab.profile import Profile


def run_job(
    script: Annotated[Path, typer.Argument(help="The Glue job's Python script.")],
    job_name: Annotated[str, typer.Option("--job-name", help="The Glue job's name (JOB_NAME).")],
    arg: Annotated[list[str] | None, typer.Option("--arg", help="Job argument KEY=VALUE (as --KEY VALUE).")] = None,
    conf: Annotated[list[str] | None, typer.Option("--conf", help="Extra Spark conf KEY=VALUE.")] = None,
    connections: Annotated[Path | None, typer.Option(help="Glue connections file (TOML or JSON).")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
    no_lineage: Annotated[bool, typer.Option("--no-lineage", help="Turn 'Generate lineage events' off.")] = False,
) -> None:
    """Run a Glue job script unchanged on local Spark (Glue 5.0, or 6.1 if the profile says so) with lineage on."""
    from lineagelab.spark_local import jobs

    argv = jobs.glue_job_argv(job_name, key_values(arg or [], "--arg"))
    from lineagelab.spark_local.session import preset_for

    preset = preset_for("glue", load_profile(profile))
    extra = jobs.glue_job_conf(job_name, key_values(conf or [], "--conf"), lineage=not no_lineage, preset=preset)
    spark.run_job(script, app_name=job_name, service="glue", argv=argv, conf=extra, connections=connections,
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
    spark.run_job(notebook, app_name=name, service="glue", argv=["--JOB_NAME", name], conf={},
                  connections=connections, profile=profile, glue_globals=True, environ={"JOB_NAME": name})


@contextmanager
def _catalog_session(profile: Path | None) -> Iterator[tuple[Any, Profile]]:
    """The local SparkSession over the metastore `glue run-job` uses (the same home beside the store)."""
    from lineagelab.spark_local import redirect, session

    prof = load_profile(profile)
    if prof.path is None:
        prof.lake = lake_root()
    home = Path(settings.store).parent if settings.store else None
    with err.status("opening the local Data Catalog (Spark's metastore)", spinner="dots"):
        spark = session.build_session("lineagelab-catalog", prof, {}, home=home)
    try:
        yield spark, prof
    finally:
        redirect.uninstall()
        spark.stop()


def import_catalog(
    files: Annotated[list[Path], typer.Argument(help="JSON printed by `aws glue get-tables`, `get-table` or "
                                                     "`get-databases`.")],
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """Mirror your Glue Data Catalog locally: databases and tables (S3 and crawled JDBC tables) from `aws glue` JSON."""
    from lineagelab.spark_local import catalog

    try:
        doc = catalog.read_files(files)
    except catalog.CatalogError as exc:
        raise UserError(str(exc)) from None
    with _catalog_session(profile) as (spark, prof):
        try:
            done = catalog.import_document(spark, doc, prof.lake)
        except catalog.CatalogError as exc:
            raise UserError(str(exc)) from None
    for t in doc.tables:
        where = f"{t.location} via connection {t.connection}" if t.is_jdbc else t.location
        out.print(f"table {t.qualified}: {t.classification or 'unknown'}, {len(t.columns)} column(s)"
                  + (f", partitioned by {', '.join(c.name for c in t.partition_keys)}" if t.partition_keys else "")
                  + f", {where}")
    out.print(f"imported {len(doc.databases)} database(s) and {len(doc.tables)} table(s) into the local Data "
              f"Catalog ({len(done)} item(s))")


def tables(
    database: Annotated[str | None, typer.Argument(help="Only this database.")] = None,
    profile: Annotated[Path | None, typer.Option(help="Profile (default ./lineagelab.toml).")] = None,
) -> None:
    """List the tables of the local Glue Data Catalog."""
    from lineagelab.spark_local import catalog

    with _catalog_session(profile) as (spark, prof):
        try:
            found = catalog.list_tables(spark, prof.lake, database)
        except catalog.CatalogError as exc:
            raise UserError(str(exc)) from None
    if not found:
        out.print("no tables in the local Data Catalog" + (f" database {database}" if database else ""))
        return
    for t in found:
        keys = f" partitioned by {', '.join(c.name for c in t.partition_keys)}" if t.partition_keys else ""
        via = f" via connection {t.connection}" if t.connection else ""
        out.print(f"{t.qualified}  {t.classification}  {t.location}{via}  {len(t.columns)} column(s){keys}")
