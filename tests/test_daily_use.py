"""Daily use (issue 24): the names users know, unknown columns as errors, runs, reversed ranges, and small things —
through the real CLI on the seed's sample events."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.conftest import write_ndjson
from tests.test_cli import run

GLUE_OUT = "s3://datazone-123456789012/attendanceparquet"


@pytest.fixture
def loaded(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    write_ndjson(tmp_path / "events.ndjson", events)
    run(tmp_path, "ingest", "events.ndjson")
    return tmp_path


def test_a_column_the_node_never_had_is_an_error(loaded: Path) -> None:
    proc = run(loaded, "impact", "attendance_with_emp1::nosuchcol", check=False)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"error: {GLUE_OUT} has no column 'nosuchcol'; its columns: Absent, Date,")
    wrong_case = run(loaded, "lineage", "attendance_with_emp1::salary", check=False)
    assert wrong_case.returncode == 2 and "did you mean 'Salary'?" in wrong_case.stderr
    job = run(loaded, "lineage", "lineageglue::Salary", check=False)
    assert job.returncode == 2 and "is a job: only datasets have columns" in job.stderr
    # a column every event named still answers, and so does the whole-row node
    assert "attendanceparquet::Salary" in run(loaded, "lineage", "attendance_with_emp1::Salary").stdout
    run(loaded, "impact", "attendance_with_emp1::*")


def test_glue_tables_resolve_and_show_as_db_table(loaded: Path) -> None:
    data = json.loads(run(loaded, "lineage", "gluedbname.attendance_with_emp1", "--format", "json").stdout)
    start = next(n for n in data["nodes"] if n["id"] == data["start"][0])
    assert start["key"] == GLUE_OUT and start["label"] == "gluedbname.attendance_with_emp1"
    assert f"{GLUE_OUT} (gluedbname.attendance_with_emp1)" in run(loaded, "graph").stdout
    assert "(gluedbname.attendance_with_emp1)" in run(loaded, "impact", "csv/attendance.csv").stdout
    # the Glue table's column, by db.table
    assert "::EmployeeID" in run(loaded, "lineage", "GLUEDBNAME.attendance_with_emp1::EmployeeID").stdout


def test_a_spark_application_answers_with_its_writes(loaded: Path) -> None:
    data = json.loads(run(loaded, "lineage", "lineageglue", "--format", "json").stdout)
    keys = {n["key"]: n["depth"] for n in data["nodes"]}
    assert keys["default.lineageglue"] == 0
    assert keys["s3://datazone-123456789012/csv/attendance.csv"] == -1 and keys[GLUE_OUT] == 1
    impact = json.loads(run(loaded, "impact", "lineageglue", "--format", "json").stdout)
    assert [i["key"] for i in impact] == [GLUE_OUT]
    tree = run(loaded, "graph").stdout.splitlines()
    i = tree.index("├── default.lineageglue")
    assert tree[i + 1].startswith("│   └── default.lineageglue.execute_create_data_source_table_as_select_command")
    assert tree[i + 2].startswith("│       ├── reads  mysql://")


def test_runs(loaded: Path) -> None:
    table = run(loaded, "runs").stdout
    assert table.rstrip().endswith("11 run(s)")
    assert "COMPLETE" in table and "csv/attendance.csv" in table and "4.0 s" in table
    glue = json.loads(run(loaded, "runs", "lineageglue", "--format", "json").stdout)
    assert len(glue) == 4 and glue[0]["started_at"] == "2024-06-02T10:00:05+00:00"
    assert glue[0]["outputs"] == [GLUE_OUT] and glue[0]["state"] == "COMPLETE"
    assert json.loads(run(loaded, "runs", "--state", "fail", "--format", "json").stdout) == []
    day1 = json.loads(run(loaded, "runs", "--until", "2024-06-01T23:00:00Z", "--format", "json").stdout)
    assert len(day1) == 9
    bad = run(loaded, "runs", "--state", "done", check=False)
    assert bad.returncode == 2 and "--state 'done': choose complete, fail" in bad.stderr
    assert "is a dataset" in run(loaded, "runs", "csv/attendance.csv", check=False).stderr


def test_diff_runs_by_job_and_prefix(loaded: Path) -> None:
    out = run(loaded, "diff", "--runs", "lineageglue@previous", "lineageglue@latest").stdout
    assert f"- column: {GLUE_OUT}::Salary" in out
    ids = [r["run_id"] for r in json.loads(run(loaded, "runs", "--format", "json").stdout)]
    short = run(loaded, "diff", "--runs", ids[0][:8], ids[0]).stdout
    assert "no changes" in short
    prefixes: dict[str, list[str]] = {}
    for i in ids:
        prefixes.setdefault(i[0], []).append(i)
    shared = next(p for p, v in prefixes.items() if len(v) > 1)
    amb = run(loaded, "diff", "--runs", shared, ids[0], check=False)
    assert amb.returncode == 2 and amb.stderr.count("\n") == 1
    assert f"run id prefix {shared!r} matches {len(prefixes[shared])} runs: " in amb.stderr
    assert all(i in amb.stderr for i in prefixes[shared])
    none = run(loaded, "diff", "--runs", "copy_dev_public_absent@previous", ids[0], check=False)
    assert none.returncode == 2 and "no previous run" in none.stderr


def test_reversed_time_ranges_are_refused(loaded: Path) -> None:
    proc = run(loaded, "diff", "--from", "2024-06-03T00:00:00Z", "--to", "2024-06-01T00:00:00Z", check=False)
    assert proc.returncode == 2
    assert proc.stderr == "error: --from 2024-06-03T00:00:00Z is later than --to 2024-06-01T00:00:00Z\n"
    proc = run(loaded, "runs", "--since", "2024-06-03T00:00:00Z", "--until", "2024-06-01T00:00:00Z", check=False)
    assert proc.returncode == 2 and "--since 2024-06-03T00:00:00Z is later than --until" in proc.stderr


def test_sql_lineage_summarises_statements_without_lineage(tmp_path: Path) -> None:
    (tmp_path / "s.sql").write_text("CREATE TABLE a (x INT);\nCREATE TABLE b (x INT);\n"
                                    "INSERT INTO b SELECT x FROM a;\nDROP TABLE a;\n")
    out = run(tmp_path, "sql", "lineage", "s.sql", "--dialect", "postgres").stdout
    assert out.startswith("statement 3 (line 3): INSERT a -> b\n") and out.count("statement ") == 1
    assert out.rstrip().endswith("3 statement(s) without lineage: 1 (line 1, CREATE_TABLE), 2 (line 2, CREATE_TABLE), "
                                 "4 (line 4, DROP)")


def test_lake_ls_hides_hadoop_side_files(tmp_path: Path) -> None:
    table = tmp_path / "lake" / "bucket" / "t"
    for name in ("part-0.parquet", ".part-0.parquet.crc", "_SUCCESS", "_temporary/0/part-1.parquet", ".hidden"):
        (table / name).parent.mkdir(parents=True, exist_ok=True)
        (table / name).write_text("x")
    lines = run(tmp_path, "lake", "ls").stdout.splitlines()
    assert [line.split()[-1] for line in lines] == ["s3://bucket/t/part-0.parquet"]
    assert len(run(tmp_path, "lake", "ls", "--all").stdout.splitlines()) == 5


def test_help_shows_boolean_options_as_flags() -> None:
    from lineagelab.cli import app

    runner = CliRunner()
    seen = 0

    def walk(cmd: Any, path: list[str]) -> None:  # typer's own click: groups are known by their commands
        nonlocal seen
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, path
        assert "<bool>" not in result.output, path
        seen += 1
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    assert seen > 25
    replay = runner.invoke(app, ["replay", "--help"], terminal_width=200).output
    assert any(line.split()[:1] == ["--dry-run"] and "Print what" in line for line in replay.splitlines())
