"""The CLI as users run it: a real process, real files, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import write_ndjson


def run(tmp_path: Path, *args: str, stdin: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LINEAGELAB_STORE": str(tmp_path / "store.duckdb"), "COLUMNS": "250"}
    proc = subprocess.run([sys.executable, "-m", "lineagelab", *args], input=stdin.decode() if stdin else None,
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


@pytest.fixture
def loaded(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    write_ndjson(tmp_path / "events.ndjson", events)
    run(tmp_path, "ingest", "events.ndjson")
    return tmp_path


def test_ingest_summary_and_rejections(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(orjson.dumps(events[0]) + b"\n{nope\n" + orjson.dumps(events[1]) + b"\n")
    proc = run(tmp_path, "ingest", "in.ndjson", check=False)
    assert proc.returncode == 1
    assert proc.stdout.strip() == "accepted 2, duplicates 0, rejected 1"
    assert "in.ndjson:line 2: malformed JSON" in proc.stderr
    assert "committed 2 events" in proc.stderr  # the rejected one is not counted as stored
    again = run(tmp_path, "ingest", "-", stdin=orjson.dumps(events[0]) + b"\n")
    assert again.stdout.strip() == "accepted 0, duplicates 1, rejected 0"


def test_strict_ingest(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    write_ndjson(tmp_path / "in.ndjson", [events[0], {"eventType": "START"}, events[1]])
    proc = run(tmp_path, "ingest", "--strict", "in.ndjson", check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --strict: ") and "nothing from this ingest was stored" in proc.stderr
    assert json.loads(run(tmp_path, "store", "stats", "--format", "json").stdout)["events"] == 0


def test_lineage_formats(loaded: Path) -> None:
    data = json.loads(run(loaded, "lineage", "employeewithabsent", "--format", "json", "--upstream").stdout)
    assert data["direction"] == "upstream" and data["mode"] == "latest"
    assert any(n["key"].endswith("csv/attendance.csv") for n in data["nodes"])
    dot = run(loaded, "lineage", "employeewithabsent", "--format", "dot").stdout
    assert dot.startswith("digraph lineage {")
    assert run(loaded, "lineage", "employeewithabsent", "--format", "mermaid").stdout.startswith("flowchart LR")
    table = run(loaded, "lineage", "employeewithabsent::absent", "--upstream").stdout
    assert "dev.public.absent::absent" in table and "DIRECT/IDENTITY" in table
    cols = json.loads(run(loaded, "lineage", "attendance_with_emp1", "--columns", "--format", "json").stdout)
    assert len(cols["column_edges"]) == 15


def test_impact_and_root_cause(loaded: Path) -> None:
    data = json.loads(run(loaded, "impact", "csv/attendance.csv::Absent", "--format", "json").stdout)
    assert [i["distance"] for i in data] == sorted(i["distance"] for i in data)
    assert any(i["key"].endswith("employee_absence_summary::days_absent") for i in data)
    up = run(loaded, "impact", "employee_absence_summary", "--upstream").stdout
    assert "csv/employees.csv" in up and "upstream nodes" in up


def test_diff_guard_exit_code(loaded: Path) -> None:
    ok = run(loaded, "diff", "--from", "2024-06-01T12:00:00Z", "--to", "2024-06-02T12:00:00Z",
             "--fail-on", "removed-edges")
    assert "- column: s3://datazone-123456789012/attendanceparquet::Salary" in ok.stdout
    failed = run(loaded, "diff", "--from", "2024-06-01T12:00:00Z", "--to", "2024-06-02T12:00:00Z",
                 "--fail-on", "removed-columns", check=False)
    assert failed.returncode == 3 and "lineage guard failed: removed-columns" in failed.stderr
    data = json.loads(run(loaded, "diff", "--from", "2024-06-01T12:00:00Z", "--format", "json").stdout)
    assert data["columns"]["removed"] == ["s3://datazone-123456789012/attendanceparquet::Salary"]


def test_export_round_trip_via_cli(loaded: Path, tmp_path: Path) -> None:
    run(loaded, "export", "events", "out.ndjson")
    run(loaded, "export", "events", "day2.ndjson", "--since", "2024-06-02T00:00:00Z")
    assert len((loaded / "day2.ndjson").read_bytes().splitlines()) == 4
    other = tmp_path / "other"
    other.mkdir()
    (other / "out.ndjson").write_bytes((loaded / "out.ndjson").read_bytes())
    assert run(other, "ingest", "out.ndjson").stdout.strip() == "accepted 22, duplicates 0, rejected 0"
    run(other, "export", "events", "again.ndjson")
    assert (other / "again.ndjson").read_bytes() == (loaded / "out.ndjson").read_bytes()


def test_store_stats_and_rebuild(loaded: Path) -> None:
    stats = json.loads(run(loaded, "store", "stats", "--format", "json").stdout)
    assert (stats["events"], stats["jobs"], stats["datasets"], stats["runs"]) == (22, 9, 9, 11)
    assert "rebuilt from 22 events" in run(loaded, "store", "rebuild").stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["lineage", "employee"], "error: 'employee' matches 2 nodes; give more of the name:"),
        (["lineage", "nothing_like_this"], "error: no dataset or job matches 'nothing_like_this'"),
        (["lineage", "employeewithabsent", "--as-of", "last tuesday"], "error: --as-of: 'last tuesday' is not an"),
        (["lineage", "employeewithabsent", "--format", "png"], "error: --format 'png'"),
        (["diff", "--runs", "nope", "nada"], "error: no run with id 'nope'"),
        (["diff", "--from", "2024-01-01", "--fail-on", "everything"], "error: --fail-on 'everything'"),
    ],
)
def test_errors_are_one_clear_line(loaded: Path, args: list[str], message: str) -> None:
    proc = run(loaded, *args, check=False)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message)
    assert "Traceback" not in proc.stderr


def test_missing_store_and_debug_trace(tmp_path: Path) -> None:
    proc = run(tmp_path, "lineage", "x", check=False)
    assert proc.returncode == 1 and proc.stderr.strip().startswith("error: no lineage store at")
    assert "Traceback" not in proc.stderr
    debug = run(tmp_path, "--debug", "lineage", "x", check=False)
    assert "Traceback" in debug.stderr


def test_demo_runs_the_seed_scenarios(tmp_path: Path) -> None:
    """The live demo: Glue, notebook and EMR on local Spark against MariaDB; Redshift on PostgreSQL; history."""
    proc = run(tmp_path, "demo")
    oks = [line for line in proc.stdout.splitlines() if line.startswith("ok ")]
    assert len(oks) == 7, proc.stdout
    for job in ("lineageglue.execute_create_data_source_table_as_select_command", "lineagenotebook",
                "copy_dev_public_absent", "ctas_dev_public_employeewithabsent", "spark_lineage"):
        assert job in proc.stdout
    # the EMR column traced back through Redshift to the S3 CSV the Redshift COPY read
    assert "s3://datazone-123456789012/csv/attendance.csv::OvertimeHours" in proc.stdout
    assert "- column: s3://datazone-123456789012/attendanceparquet::Salary" in proc.stdout


def test_demo_samples_needs_no_spark(tmp_path: Path) -> None:
    proc = run(tmp_path, "demo", "--samples")
    assert "accepted 22, duplicates 0, rejected 0" in proc.stdout
    assert "- column: s3://datazone-123456789012/attendanceparquet::Salary" in proc.stdout


def test_names_that_look_like_markup_print_verbatim(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """Names are data: brackets in a job or dataset name are neither rich markup (which failed on "[/bold]") nor
    cropped to the terminal's width."""
    notebook = [e for e in events if e["job"]["name"].startswith("lineagenotebook.")]
    for e in notebook:
        e["job"]["name"] = "etl[/bold] [red]x"
        e["outputs"][0]["name"] = "out[/]/" + "deep/" * 30 + "table"
    write_ndjson(tmp_path / "events.ndjson", notebook)
    run(tmp_path, "ingest", "events.ndjson")
    out = "s3://datazone-123456789012/out[/]/" + "deep/" * 30 + "table"
    graph = run(tmp_path, "graph").stdout.splitlines()
    assert graph[1:] == ["└── default.etl[/bold] [red]x",
                         "    ├── reads  s3://datazone-123456789012/csv/employees.csv",
                         f"    └── writes {out}"]
    assert "default.etl[/bold] [red]x" in run(tmp_path, "lineage", "etl[/bold]").stdout
    assert "default.etl[/bold] [red]x" in run(tmp_path, "impact", "csv/employees.csv").stdout
    assert "::avg_salary" in run(tmp_path, "lineage", "deep/table", "--columns").stdout
    assert "DIRECT/IDENTITY" in run(tmp_path, "lineage", "csv/employees.csv::Location", "--downstream").stdout
    bad = {**notebook[0], "run": {"runId": "[/red]"}}
    write_ndjson(tmp_path / "bad.ndjson", [bad])
    os.environ["LINEAGELAB_STRICT"] = "1"  # the full validation's message (liberal acceptance would warn instead)
    try:
        rejected = run(tmp_path, "ingest", "bad.ndjson", check=False)
    finally:
        del os.environ["LINEAGELAB_STRICT"]
    assert rejected.returncode == 1 and rejected.stdout.strip() == "accepted 0, duplicates 0, rejected 1"
    assert "$.run.runId: must be uuid (got '[/red]')" in rejected.stderr
