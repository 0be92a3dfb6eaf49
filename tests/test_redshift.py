"""The seed's Redshift option on the real PostgreSQL: tables, rows, and the lineage DataZone would show."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from lineagelab.events.validation import validate_event
from lineagelab.sql.redshift import Target, run_script
from tests.test_validation import official_errors

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "fixtures" / "seed"
RS = "redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439"
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_database(request: pytest.FixtureRequest) -> Iterator[str]:
    name = f"lltest_{os.getpid()}_{abs(hash(request.node.name)) % 10**8}"
    with psycopg.connect(ADMIN, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}"')
    yield name
    with psycopg.connect(ADMIN, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def lake_with_seed(root: Path) -> Path:
    lake = root / "lake"
    (lake / "datazone-123456789012" / "csv").mkdir(parents=True)
    for f in ("attendance.csv", "employees.csv"):
        shutil.copy(SEED / f, lake / "datazone-123456789012" / "csv" / f)
    return lake


def test_seed_redshift_script_end_to_end(tmp_path: Path, pg_database: str, spec_dir: Path) -> None:
    target = Target(database="dev", pg_database=pg_database, lake=lake_with_seed(tmp_path))
    report = run_script((SEED / "redshift.sql").read_text(), target)
    assert (report.statements, report.executed, report.errors) == (5, 5, [])
    with psycopg.connect(target.conninfo()) as con:
        assert con.execute("SELECT count(*) FROM absent").fetchone() == (5,)
        assert con.execute("SELECT count(*), sum(overtimehours), min(name) FROM employeewithabsent").fetchone() == \
            (5, 9, "Employee_0")
    assert len(report.events) == 6  # START + COMPLETE for COPY, COPY, CTAS
    for e in report.events:
        validate_event(e)
        assert official_errors(spec_dir, e) == []
    ctas = report.events[-1]
    assert ctas["eventType"] == "COMPLETE" and ctas["job"]["namespace"] == RS
    assert ctas["job"]["facets"]["sql"]["query"].startswith("CREATE TABLE public.employeewithabsent AS")
    assert {(i["namespace"], i["name"]) for i in ctas["inputs"]} == {(RS, "dev.public.employee"),
                                                                    (RS, "dev.public.absent")}
    out = ctas["outputs"][0]
    assert (out["namespace"], out["name"]) == (RS, "dev.public.employeewithabsent")
    assert [f["name"] for f in out["facets"]["schema"]["fields"]][:3] == ["employeeid", "name", "department"]
    fields = out["facets"]["columnLineage"]["fields"]
    assert set(fields) == {"employeeid", "name", "department", "role", "hiredate", "salary", "performancerating",
                           "shift", "location", "absent", "overtimehours"}
    def src(col: str) -> set[tuple[str, str, str, str]]:
        return {(i["name"], i["field"], t["type"], t["subtype"]) for i in fields[col]["inputFields"]
                for t in i["transformations"]}
    assert src("salary") == {("dev.public.employee", "salary", "DIRECT", "IDENTITY")}
    assert src("overtimehours") == {("dev.public.absent", "overtimehours", "DIRECT", "IDENTITY")}
    joins = {(i["name"], i["field"]) for i in out["facets"]["columnLineage"]["dataset"]}
    assert joins == {("dev.public.employee", "employeeid"), ("dev.public.absent", "employeeid")}
    copy = report.events[1]
    assert (copy["inputs"][0]["namespace"], copy["inputs"][0]["name"]) == ("s3://datazone-123456789012",
                                                                          "csv/attendance.csv")
    absent_src = copy["outputs"][0]["facets"]["columnLineage"]["fields"]["absent"]["inputFields"][0]
    assert (absent_src["name"], absent_src["field"]) == ("csv/attendance.csv", "Absent")  # the CSV header's name


def test_failing_statement_is_reported_and_earlier_lineage_kept(tmp_path: Path, pg_database: str) -> None:
    target = Target(database="dev", pg_database=pg_database, lake=tmp_path)
    sql = "CREATE TABLE a (x INT);\nINSERT INTO a SELECT 1;\nINSERT INTO a SELECT nope FROM missing_table;\n" \
          "CREATE TABLE b AS SELECT x FROM a;"
    report = run_script(sql, target)
    assert report.executed == 2
    assert report.errors == ['<sql>: statement 3 (line 3): relation "missing_table" does not exist']
    assert [e["eventType"] for e in report.events] == ["START", "COMPLETE", "START", "FAIL"]
    assert report.events[-1]["run"]["facets"]["errorMessage"]["message"] == 'relation "missing_table" does not exist'
    going_on = run_script(sql.replace("CREATE TABLE a (x INT);\n", ""), target, continue_on_error=True)
    assert going_on.executed == 2 and len(going_on.errors) == 1  # b was created after the failure


def _cli(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LINEAGELAB_STORE": str(tmp_path / ".lineagelab" / "lineage.duckdb"), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "lineagelab", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)
    if check and proc.returncode:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


def test_cli_run_import_and_cross_service_graph(tmp_path: Path, pg_database: str, events: list[dict[str, Any]]) -> None:
    for f in ("attendance.csv", "employees.csv"):
        _cli(tmp_path, "lake", "put", str(SEED / f), f"s3://datazone-123456789012/csv/{f}")
    out = _cli(tmp_path, "redshift", "run", str(SEED / "redshift.sql"), "--pg-database", pg_database)
    assert "5 of 5 statements executed; 3 lineage runs stored (6 events)" in out.stdout
    again = _cli(tmp_path, "redshift", "import-lineage", "--pg-database", pg_database)
    assert "imported 3 statements: 0 new events, 6 already stored" in again.stdout
    # the seed's Glue job (sample events) read the same S3 CSV: one connected graph across services
    glue = [e for e in events if e["job"]["name"].startswith("lineageglue")]
    (tmp_path / "glue.ndjson").write_text("\n".join(json.dumps(e) for e in glue))
    _cli(tmp_path, "ingest", "glue.ndjson")
    down = json.loads(_cli(tmp_path, "lineage", "csv/attendance.csv", "--downstream", "--format", "json").stdout)
    keys = {n["key"] for n in down["nodes"]}
    assert f"{RS}/dev.public.employeewithabsent" in keys
    assert "s3://datazone-123456789012/attendanceparquet" in keys
    col = json.loads(_cli(tmp_path, "impact", "csv/attendance.csv::OvertimeHours", "--format", "json").stdout)
    assert f"{RS}/dev.public.employeewithabsent::overtimehours" in {i["key"] for i in col}


def test_postgres_down_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "x.sql").write_text("SELECT 1;")
    proc = _cli(tmp_path, "redshift", "run", "x.sql", "--pg-dsn", "postgresql://postgres@127.0.0.1:1/{database}",
                check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: PostgreSQL (standing in for Redshift) does not answer at")
