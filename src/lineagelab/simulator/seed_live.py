"""The seed's four scenarios run for real, end to end: what ``lineagelab demo`` does.

Glue job (MariaDB over JDBC + S3 CSV -> parquet + catalog table), Glue notebook (its ``%%configure``), Redshift SQL
on PostgreSQL (COPY from the lake, CTAS), EMR Serverless (reads MySQL and the Redshift table, writes S3), then the
Glue job once more after the source table lost a column, so history has something to show. One JVM serves the
Spark scenarios. Each step returns its events; the caller stores them.
"""

from __future__ import annotations

import os
import shutil
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from lineagelab.profile import Profile, init_text, parse

DEMO_MYSQL_DB = "lineagelab_demo_employeedb"
DEMO_PG_DB = "lineagelab_demo"
SEED = resources.files("lineagelab.simulator") / "seed"


@dataclass
class Step:
    name: str
    events: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True
    message: str = ""
    seconds: float = 0.0
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def demo_profile(home: Path) -> Profile:
    """The profile ``lineagelab init`` writes, on demo databases, with the lake under ``home``."""
    doc = tomllib.loads(init_text("123456789012", "us-west-2", "dzd_xxxxxxxx", DEMO_MYSQL_DB, DEMO_PG_DB))
    doc["lake"] = {"root": str((home / "lake").resolve())}
    return parse(doc, None, home)


def _seed_file(name: str) -> Path:
    return Path(str(SEED / name))


def steps(home: Path, profile: Profile | None = None) -> Iterator[tuple[str, Callable[[], Step]]]:
    """The scenarios in order, each a (title, thunk) so the caller can show progress between them."""
    prof = profile or demo_profile(home)

    def services() -> Step:
        from lineagelab.spark_local.services import seed

        done = seed(prof)
        csv = prof.lake / prof.bucket() / "csv"
        csv.mkdir(parents=True, exist_ok=True)
        for name in ("attendance.csv", "employees.csv"):
            shutil.copy(_seed_file(name), csv / name)
        return Step("services", message="; ".join(done))

    def spark_step(name: str, script: str, app: str, preset: str, conf: dict[str, str],
                   glue: bool = True) -> Callable[[], Step]:
        def go() -> Step:
            from lineagelab.spark_local import runner

            os.environ["JOB_NAME"] = app
            code = runner.read_script(_seed_file(script), prof.account)
            res = runner.run(code, app_name=app, profile=prof,
                             preset=preset, argv=["--JOB_NAME", app] if glue else [], conf=conf, home=home,
                             glue_globals=glue)
            msg = f"{res.writes} write(s), {len(res.events)} events"
            if res.error is not None:
                return Step(name, res.events, False, f"{msg}; failed: {runner.format_error(res.error, code.path)}",
                            res.seconds)
            return Step(name, res.events, True, msg, res.seconds)

        return go

    glue_conf = {"spark.glue.JOB_NAME": "lineageglue", "spark.openlineage.transport.type": "amazon_datazone_api",
                 "spark.openlineage.facets.custom_environment_variables":
                     "[AWS_DEFAULT_REGION;GLUE_VERSION;GLUE_PYTHON_VERSION;GLUE_COMMAND_CRITERIA;JOB_NAME;]"}
    emr_params = ("--conf spark.jars=/usr/share/aws/datazone-openlineage-spark/lib/DataZoneOpenLineageSpark-1.0.jar,"
                  "s3://datazone-{account_id}/jars/mysql-connector-java-8.0.20.jar --conf spark.extraListeners="
                  "io.openlineage.spark.agent.OpenLineageSparkListener --conf spark.openlineage.transport.type="
                  "amazon_datazone_api --conf spark.openlineage.transport.domainId=dzd_xxxxxxxx "
                  "--conf spark.glue.accountId={account_id}")

    def redshift() -> Step:
        import psycopg

        from lineagelab.sql.redshift import Target, run_script

        target = Target(database="dev", pg_database=DEMO_PG_DB, lake=prof.lake)
        with psycopg.connect(target.dsn.format(database="postgres"), autocommit=True, connect_timeout=3) as con:
            con.execute(f"DROP DATABASE IF EXISTS {DEMO_PG_DB} WITH (FORCE)")
            con.execute(f"CREATE DATABASE {DEMO_PG_DB}")
        started = time.perf_counter()
        report = run_script(_seed_file("redshift.sql").read_text(), target, source="seed redshift.sql")
        return Step("redshift", report.events, not report.errors,
                    f"{report.executed}/{report.statements} statements, {len(report.events) // 2} lineage runs",
                    time.perf_counter() - started)

    def drop_salary() -> Step:
        import pymysql

        endpoint = prof.endpoints[0]
        host, port = endpoint.local.rsplit(":", 1)
        con = pymysql.connect(host=host, port=int(port), user="root", password="", autocommit=True)
        with con.cursor() as cur:
            cur.execute(f"ALTER TABLE `{endpoint.databases['employeedb']}`.employee DROP COLUMN Salary")
        con.close()
        return Step("day 2", message="the RDS employee table lost its Salary column")

    from lineagelab.spark_local.session import parse_conf_string

    yield "local services (MariaDB for RDS, PostgreSQL for Redshift) and the lake", services
    yield "Glue ETL job lineageglue", spark_step("glue job", "lineageglue.py", "lineageglue", "glue5", glue_conf)
    yield "Glue notebook lineagenotebook (%%configure)", spark_step("glue notebook", "lineagenotebook.ipynb",
                                                                    "lineagenotebook", "glue5", {})
    yield "Redshift SQL on PostgreSQL", redshift
    yield "EMR Serverless Spark-Lineage", spark_step("emr", "emrspark.py", "Spark-Lineage", "emr7",
                                                     parse_conf_string(emr_params), glue=False)
    yield "day 2: the source loses Salary", drop_salary
    yield "Glue ETL job lineageglue, day 2", spark_step("glue job day 2", "lineageglue.py", "lineageglue", "glue5",
                                                        glue_conf)
