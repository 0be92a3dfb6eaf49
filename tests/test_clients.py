"""One store, many clients: with ``lineagelab serve`` holding the store, captures and queries still work, through the
server, with the answers direct access gives; events nobody can take are spooled and stored on the next open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lineagelab.store import spool
from lineagelab.store.store import Store
from tests.server_fixture import free_port, running_server
from tests.test_redshift import SEED, _cli, pg_database  # noqa: F401  (the fixture)

QUERIES = [("graph", "--format", "tree"), ("lineage", "csv/attendance.csv", "--downstream", "--format", "json"),
           ("impact", "csv/attendance.csv::OvertimeHours"), ("store", "stats", "--format", "json"),
           ("runs",), ("lineage", "nosuchthing"), ("export", "events", "-")]




def _stable(args: tuple[str, ...], text: str) -> str:
    if args[:2] == ("store", "stats"):  # the size on disk differs between a served and a closed file
        figures = json.loads(text)
        figures.pop("size_bytes", None)
        figures.pop("size", None)
        return json.dumps(figures, sort_keys=True)
    return text


def test_capture_and_queries_while_the_server_holds_the_store(tmp_path: Path, pg_database: str,  # noqa: F811
                                                              events: list[dict[str, Any]]) -> None:
    store = tmp_path / ".lineagelab" / "lineage.duckdb"
    for f in ("attendance.csv", "employees.csv"):
        _cli(tmp_path, "lake", "put", str(SEED / f), f"s3://datazone-123456789012/csv/{f}")
    glue = [e for e in events if e["job"]["name"].startswith("lineageglue")]
    (tmp_path / "glue.ndjson").write_text("\n".join(json.dumps(e) for e in glue))
    with running_server(store):
        ran = _cli(tmp_path, "redshift", "run", str(SEED / "redshift.sql"), "--pg-database", pg_database)
        assert "5 of 5 statements executed; 3 lineage runs stored (6 events)" in ran.stdout
        again = _cli(tmp_path, "redshift", "import-lineage", "--pg-database", pg_database)
        assert "imported 3 statements: 0 new events, 6 already stored" in again.stdout
        assert "accepted" in _cli(tmp_path, "ingest", "glue.ndjson").stdout
        served = [_cli(tmp_path, *q, check=False) for q in QUERIES]
    assert not spool.files(store)
    direct = [_cli(tmp_path, *q, check=False) for q in QUERIES]
    for q, s, d in zip(QUERIES, served, direct, strict=True):
        assert (s.returncode, _stable(q, s.stdout)) == (d.returncode, _stable(q, d.stdout)), q
        assert s.stderr == d.stderr, q
    assert served[5].returncode == 2 and "nosuchthing" in served[5].stderr
    assert len(served[6].stdout.splitlines()) == 6 + len(glue)


def test_events_spooled_when_the_server_does_not_answer_are_stored_on_the_next_open(
        tmp_path: Path, pg_database: str) -> None:  # noqa: F811
    store = tmp_path / ".lineagelab" / "lineage.duckdb"
    store.parent.mkdir(parents=True)
    # a live process (this one) that says it serves the store on a port nobody listens on
    (store.parent / "lineage.duckdb.server.json").write_text(
        json.dumps({"pid": os.getpid(), "url": f"http://127.0.0.1:{free_port()}", "token": None}))
    for f in ("attendance.csv", "employees.csv"):
        _cli(tmp_path, "lake", "put", str(SEED / f), f"s3://datazone-123456789012/csv/{f}")
    ran = _cli(tmp_path, "redshift", "run", str(SEED / "redshift.sql"), "--pg-database", pg_database)
    [kept] = spool.files(store)
    assert "6 events not stored" in ran.stderr and str(kept) in ran.stderr
    (store.parent / "lineage.duckdb.server.json").unlink()
    with Store.open(store) as s:
        assert s.recovered.spooled_events == 6
        assert "stored 6 spooled events (captured while the store could not be opened)" in s.recovered.lines()
        assert s.stats()["events"] == 6
    assert not spool.files(store)


def test_glue_run_job_while_the_server_holds_the_store(lineagelab_profile: Any, tmp_path: Path) -> None:
    project = Path(lineagelab_profile.path).parent
    store = tmp_path / "store" / "lineage.duckdb"
    env = {**os.environ, "LINEAGELAB_STORE": str(store), "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lineagelab", *args], cwd=project, env=env,
                              capture_output=True, text=True, check=True, timeout=600)

    query = ("lineage", "attendance_with_emp1::Salary", "--upstream", "--format", "json")
    with running_server(store) as server:
        done = cli("glue", "run-job", str(SEED / "lineageglue.py"), "--job-name", "lineageglue")
        assert f"1 write(s) captured, 4 events -> server {server.url} (store {store})" in done.stdout
        served = cli(*query).stdout
        assert "employeedb.employee" in served and '"Salary"' in served
    assert cli(*query).stdout == served


def test_a_token_server_answers_its_own_users_cli(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    store = tmp_path / ".lineagelab" / "lineage.duckdb"
    (tmp_path / "e.ndjson").write_text("\n".join(json.dumps(e) for e in events[:4]))
    with running_server(store, token="s3cret"):
        info = store.with_name("lineage.duckdb.server.json")
        assert info.stat().st_mode & 0o077 == 0  # the token is readable by its owner only
        assert "accepted 4, duplicates 0, rejected 0" in _cli(tmp_path, "ingest", "e.ndjson").stdout
        served = _cli(tmp_path, "store", "stats", "--format", "json").stdout
        strict = _cli(tmp_path, "ingest", "--strict", "e.ndjson", check=False)
        assert strict.returncode == 2 and "--strict needs the store itself" in strict.stderr
    assert json.loads(served)["events"] == 4
    # a stopped server may leave its file (uvicorn ends on the signal): a dead pid's file is ignored
    assert json.loads(_cli(tmp_path, "store", "stats", "--format", "json").stdout)["events"] == 4
