"""Errors name their cause in one line: the innermost database cause of a failed script (in the CLI and in the
stored FAIL event), syntax errors before Spark starts, and `services check` logging in and saying what to run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pymysql
import pytest

from lineagelab.profile import init_text
from lineagelab.spark_local import runner


def _cli(cwd: Path, *args: str, store: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LINEAGELAB_STORE": str(store or cwd / "store" / "lineage.duckdb")}
    return subprocess.run([sys.executable, "-m", "lineagelab", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _jdbc_script(path: Path, url: str, table: str, user: str, password: str) -> Path:
    path.write_text("df = (spark.read.format('jdbc')\n"
                    f"      .option('url', {url!r}).option('dbtable', {table!r})\n"
                    f"      .option('user', {user!r}).option('password', {password!r}).load())\n"
                    "df.write.mode('overwrite').parquet('s3://unit/never/')\n")
    return path


def test_missing_table_is_named_in_the_cli_and_the_fail_event(lineagelab_profile: Any, tmp_path: Path) -> None:
    project = Path(lineagelab_profile.path).parent
    db = lineagelab_profile.endpoints[0].databases["employeedb"]
    script = _jdbc_script(tmp_path / "orders.py", "jdbc:mysql://dbhost:3306/employeedb", "orderz", "root", "")
    store = tmp_path / "store" / "lineage.duckdb"
    proc = _cli(project, "glue", "run-job", str(script), "--job-name", "orders", store=store)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert f"error: the script failed: Table '{db}.orderz' doesn't exist ({script}:3)" in proc.stderr
    exported = [json.loads(x) for x in _cli(project, "export", "events", "-", store=store).stdout.splitlines()]
    [fail] = [e for e in exported if e["eventType"] == "FAIL"]
    assert fail["run"]["facets"]["errorMessage"]["message"] == f"Table '{db}.orderz' doesn't exist"


def test_connection_failures_name_port_password_database_and_engine(lineage_spark: Any, lineagelab_profile: Any,
                                                                    tmp_path: Path) -> None:
    cases = {
        "Connection refused to 127.0.0.1:3307; `lineagelab services check`":
            ("jdbc:mysql://127.0.0.1:3307/mysql", "user", "root", ""),
        "Access denied for user 'root'@": ("jdbc:mysql://127.0.0.1:3306/mysql", "user", "root", "wrong"),
        "Unknown database 'nosuchdb'": ("jdbc:mysql://127.0.0.1:3306/nosuchdb", "t", "root", ""),
        "127.0.0.1:5432 did not answer as MySQL/MariaDB (is it PostgreSQL?)":
            ("jdbc:mysql://127.0.0.1:5432/x", "t", "root", ""),
        'relation "orderz" does not exist': ("jdbc:postgresql://127.0.0.1:5432/postgres", "orderz", "postgres", ""),
        "did not answer as PostgreSQL (is it MySQL/MariaDB?)": ("jdbc:postgresql://127.0.0.1:3306/x", "t", "root", ""),
    }
    for expected, (url, table, user, password) in cases.items():
        script = _jdbc_script(tmp_path / "job.py", url, table, user, password)
        result = runner.run(runner.read_script(script, "123456789012"), app_name="conn", profile=lineagelab_profile)
        assert result.error is not None
        assert expected in result.error_line, (expected, result.error_line)
        assert "\n" not in result.error_line and "wrong" not in result.error_line
        fail = result.events[-1]
        assert fail["eventType"] == "FAIL" and expected in fail["run"]["facets"]["errorMessage"]["message"]


def test_failed_jdbc_write_names_its_cause(lineage_spark: Any, lineage: Any) -> None:
    with pytest.raises(Exception) as info:
        (lineage_spark.range(1).write.format("jdbc").option("url", "jdbc:mysql://127.0.0.1:3307/x")
         .option("dbtable", "t").option("user", "root").option("password", "").mode("append").save())
    assert runner.format_error(info.value).startswith("Connection refused to 127.0.0.1:3307;")
    [run] = lineage.writes()
    assert run.state == "FAIL"
    assert run.event["run"]["facets"]["errorMessage"]["message"].startswith("Connection refused to 127.0.0.1:3307;")


def test_syntax_error_is_reported_before_spark_starts(tmp_path: Path) -> None:
    (tmp_path / "lineagelab.toml").write_text(init_text("123456789012", "us-west-2", "dzd_x"))
    script = tmp_path / "typo.py"
    script.write_text("x = 1\ndef broken(:\n    pass\n")
    proc = _cli(tmp_path, "glue", "run-job", str(script), "--job-name", "typo")
    assert proc.returncode == 2
    assert f"{script}:2: SyntaxError: " in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "store").exists()  # no Spark, no events, no store


def test_services_check_logs_in_and_says_what_to_run(tmp_path: Path) -> None:
    name = f"ll_chk{os.getpid()}"
    text = init_text("123456789012", "us-west-2", "dzd_x", mysql_db=name, pg_db=name)
    (tmp_path / "lineagelab.toml").write_text(text)  # as `lineagelab init` writes it, before `services seed`
    try:
        first = _cli(tmp_path, "services", "check")
        assert first.returncode == 1
        lines = first.stdout.splitlines()
        assert lines[0].startswith("missing") and "cannot log in" in lines[0]
        assert lines[0].endswith("run `lineagelab services seed`")
        assert "awsuser cannot log in to " + name in lines[2] and lines[2].endswith("run `lineagelab services seed`")
        assert _cli(tmp_path, "services", "seed").returncode == 0
        assert _cli(tmp_path, "services", "check").stdout.count("ok ") == 3
        text += ('\n[[endpoints]]\naws = "pg-at-mariadb:5439"\nlocal = "127.0.0.1:3306"\nengine = "postgres"\n'
                 '\n[[endpoints]]\naws = "mysql-at-postgres:3306"\nlocal = "127.0.0.1:5432"\nengine = "mysql"\n')
        (tmp_path / "lineagelab.toml").write_text(text)
        wrong = _cli(tmp_path, "services", "check").stdout.splitlines()
        assert [line.split()[0] for line in wrong] == ["ok", "ok", "ok", "missing", "missing"]
        assert "a service answers, but not as PostgreSQL" in wrong[3]
        assert "a service answers, but not as MySQL/MariaDB (is it PostgreSQL?)" in wrong[4]
    finally:
        con = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
        with con.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        con.close()
        with psycopg.connect(host="127.0.0.1", user="postgres", dbname="postgres", autocommit=True) as pg:
            pg.execute(f'DROP DATABASE IF EXISTS "{name}"')


def test_causes_of_chains_read_off_the_jvm() -> None:
    from lineagelab.spark_local.causes import describe

    udf = [("org.apache.spark.SparkException", "Job aborted due to stage failure: ..."),
           ("org.apache.spark.api.python.PythonException",
            "Traceback (most recent call last):\n  File \"job.py\", line 3, in f\n"
            "ZeroDivisionError: division by zero\n")]
    assert describe(udf) == "ZeroDivisionError: division by zero"
    assert describe([]) is None
