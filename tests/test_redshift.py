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
SEED = ROOT / "src" / "lineagelab" / "simulator" / "seed"  # the seed's files, shipped with the package
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


def test_glue_output_loaded_by_redshift_copy_is_one_graph(tmp_path: Path, pg_database: str,
                                                          events: list[dict[str, Any]]) -> None:
    """The Glue job writes s3://…/attendanceparquet/; Redshift COPYs that Parquet: Glue → S3 → Redshift."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from lineagelab.graph.resolve import resolve
    from lineagelab.graph.traverse import impact, table_lineage
    from lineagelab.ingest.reader import RawEvent
    from lineagelab.store.sources import Events
    from lineagelab.store.store import Store

    lake = lake_with_seed(tmp_path)
    part = lake / "datazone-123456789012" / "attendanceparquet" / "part-00000.snappy.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(pacsv.read_csv(SEED / "attendance.csv"), part)
    sql = """CREATE TABLE public.attendance_from_glue (employeeid VARCHAR(256), date DATE, shiftstart TIMESTAMP,
                 shiftend TIMESTAMP, absent BOOLEAN, overtimehours INTEGER) DISTSTYLE AUTO;
             COPY public.attendance_from_glue FROM 's3://datazone-123456789012/attendanceparquet/'
                 IAM_ROLE 'arn:aws:iam::123456789012:role/RedshiftAdmin' FORMAT AS PARQUET;"""
    target = Target(database="dev", pg_database=pg_database, lake=lake)
    report = run_script(sql, target)
    assert report.errors == []
    with psycopg.connect(target.conninfo()) as con:
        assert con.execute("SELECT count(*), sum(overtimehours) FROM attendance_from_glue").fetchone() == (5, 9)
    glue = [e for e in events if e["job"]["name"].startswith("lineageglue")]
    with Store.open(tmp_path / "s.duckdb") as store:
        store.ingest(Events(RawEvent("t", str(i), json.dumps(e).encode(), e)
                            for i, e in enumerate(glue + report.events)))
        down = table_lineage(store.con, resolve(store.con, "employeedb.employee").node, direction="downstream")
        keys = {d["key"] for _, d in down.graph.nodes(data=True)}
        assert f"{RS}/dev.public.attendance_from_glue" in keys  # MySQL → Glue → S3 parquet → COPY → Redshift
        assert "s3://datazone-123456789012/attendanceparquet" in keys
        cols = {i.key for i in impact(store.con, resolve(store.con, "csv/attendance.csv::OvertimeHours"))}
        assert f"{RS}/dev.public.attendance_from_glue::overtimehours" in cols


def test_unload_and_function_translation(tmp_path: Path, pg_database: str) -> None:
    target = Target(database="dev", pg_database=pg_database, lake=tmp_path / "lake")
    sql = """CREATE TABLE t (id INT ENCODE az64, name VARCHAR(65535), created TIMESTAMP) DISTKEY(id) SORTKEY(created);
             INSERT INTO t VALUES (1, 'a', '2024-01-01'), (2, NULL, '2024-01-02');
             CREATE TABLE u AS SELECT id, NVL(name, 'none') AS name, DATEADD(day, 1, created) AS next_day,
                                      GETDATE() AS loaded_at FROM t;
             UNLOAD ('SELECT id, name FROM u ORDER BY id') TO 's3://exports/u/u_'
                 IAM_ROLE 'arn:aws:iam::123456789012:role/R';"""
    report = run_script(sql, target)
    assert report.errors == [] and report.executed == 4
    with psycopg.connect(target.conninfo()) as con:
        assert con.execute("SELECT name, next_day::date::text FROM u ORDER BY id").fetchall() == [
            ("a", "2024-01-02"), ("none", "2024-01-03")]
    unloaded = tmp_path / "lake" / "exports" / "u" / "u_0000_part_00"
    assert unloaded.read_text().splitlines() == ["1|a", "2|none"]
    unload = next(e for e in report.events if e["job"]["name"].startswith("unload") and e["eventType"] == "COMPLETE")
    # issue 21: named as a Spark read of the folder names it (files u/u_0000_part_00 -> dataset s3://exports/u)
    assert (unload["outputs"][0]["namespace"], unload["outputs"][0]["name"]) == ("s3://exports", "u")
    assert unload["inputs"][0]["name"] == "dev.public.u"
    ctas = next(e for e in report.events if e["job"]["name"].startswith("ctas") and e["eventType"] == "COMPLETE")
    fields = ctas["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert fields["name"]["inputFields"][0]["transformations"][0]["subtype"] == "TRANSFORMATION"
    assert "loaded_at" not in fields  # GETDATE() reads no column


def test_every_data_moving_statement_kind_runs_with_lineage(tmp_path: Path, pg_database: str, spec_dir: Path) -> None:
    target = Target(database="dev", pg_database=pg_database, lake=tmp_path)
    sql = """CREATE TABLE src (id INT, v VARCHAR(20));
             INSERT INTO src VALUES (1, 'a'), (2, 'b'), (3, 'c');
             CREATE TABLE dst (id INT, v VARCHAR(20));
             INSERT INTO dst (id, v) SELECT id, v FROM src WHERE id < 3;
             MERGE INTO dst USING src ON dst.id = src.id
               WHEN MATCHED THEN UPDATE SET v = src.v
               WHEN NOT MATCHED THEN INSERT (id, v) VALUES (src.id, src.v);
             UPDATE dst SET v = upper(s.v) FROM src s WHERE dst.id = s.id;
             DELETE FROM dst USING src WHERE dst.id = src.id AND src.v = 'c';
             CREATE TABLE staging (id INT, v VARCHAR(20));
             INSERT INTO staging VALUES (9, 'z');
             ALTER TABLE dst APPEND FROM staging;
             SELECT id, v INTO dst_copy FROM dst;
             CREATE VIEW dst_view AS SELECT id FROM dst_copy;
             ALTER TABLE dst_copy RENAME TO dst_final;"""
    report = run_script(sql, target)
    assert report.errors == [] and report.executed == 13
    with psycopg.connect(target.conninfo()) as con:
        assert con.execute("SELECT id, v FROM dst_final ORDER BY id").fetchall() == [(1, "A"), (2, "B"), (9, "z")]
        assert con.execute("SELECT count(*) FROM staging").fetchone() == (0,)  # APPEND moves the rows
        assert con.execute("SELECT count(*) FROM dst_view").fetchone() == (3,)
    completes = [e for e in report.events if e["eventType"] == "COMPLETE"]
    kinds = [e["job"]["name"].split("_dev_")[0] for e in completes]
    assert kinds == ["insert", "insert", "merge", "update", "delete", "insert", "alter_append", "select_into",
                     "create_view", "alter_rename"]
    for e in completes:
        assert official_errors(spec_dir, e) == []
    merge = completes[2]
    assert [i["name"] for i in merge["inputs"]] == ["dev.public.src"]
    assert merge["outputs"][0]["facets"]["columnLineage"]["fields"]["v"]["inputFields"][0]["field"] == "v"
    rename = completes[-1]
    assert (rename["inputs"][0]["name"], rename["outputs"][0]["name"]) == ("dev.public.dst_copy",
                                                                          "dev.public.dst_final")


def test_spark_write_copied_by_redshift_stitches(tmp_path: Path, pg_database: str, lineage_spark: Any,
                                                lineage: Any, lineagelab_profile: Any) -> None:
    """A real Spark write (with _SUCCESS and .crc files), COPYed by prefix, by partial key and by manifest: every
    COPY loads only the data files and names the Spark output, so `lineage --upstream` reaches the Spark sources."""
    lake = Path(lineagelab_profile.lake)
    src = lineage.put(SEED / "attendance.csv", "s3://stitch/in/attendance.csv")
    att = lineage_spark.read.csv(f"s3://stitch/in/{src.name}", header=True, inferSchema=True)
    att.select("EmployeeID", "OvertimeHours").coalesce(1).write.mode("overwrite").parquet("s3://stitch/out/")
    spark_run = lineage.last()
    assert spark_run.outputs == {"s3://stitch/out"}
    out_dir = lake / "stitch" / "out"
    assert (out_dir / "_SUCCESS").exists() and list(out_dir.glob(".*.crc"))
    (out_dir / "empty.parquet").write_bytes(b"")  # an empty object: Redshift skips it
    part = next(out_dir.glob("part-*.parquet")).name
    manifest = {"entries": [{"url": f"s3://stitch/out/{part}", "mandatory": True}]}
    (lake / "stitch" / "out.manifest").write_text(json.dumps(manifest))
    sql = """CREATE TABLE public.ot (employeeid VARCHAR(64), overtimehours INTEGER);
             COPY public.ot FROM 's3://stitch/out/' IAM_ROLE 'arn:aws:iam::1:role/R' FORMAT AS PARQUET;
             COPY public.ot FROM 's3://stitch/out/part-' IAM_ROLE 'arn:aws:iam::1:role/R' FORMAT AS PARQUET;
             COPY public.ot FROM 's3://stitch/out.manifest' IAM_ROLE 'arn:aws:iam::1:role/R' FORMAT AS PARQUET
                 MANIFEST;
             UNLOAD ('SELECT employeeid FROM public.ot') TO 's3://stitch/back/ot_' IAM_ROLE 'arn:aws:iam::1:role/R';"""
    report = run_script(sql, Target(database="dev", pg_database=pg_database, lake=lake))
    assert report.errors == []
    with psycopg.connect(Target(database="dev", pg_database=pg_database, lake=lake).conninfo()) as con:
        assert con.execute("SELECT count(*) FROM public.ot").fetchone() == (15,)  # 5 rows, three times
    copies = [e for e in report.events if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("copy")]
    assert len(copies) == 3
    for e in copies:
        assert [(i["namespace"], i["name"]) for i in e["inputs"]] == [("s3://stitch", "out")]
        fields = e["outputs"][0]["facets"]["columnLineage"]["fields"]
        assert fields["overtimehours"]["inputFields"][0]["field"] == "OvertimeHours"
    unload = next(e for e in report.events if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("unload"))
    assert (unload["outputs"][0]["namespace"], unload["outputs"][0]["name"]) == ("s3://stitch", "back")
    assert (lake / "stitch" / "back" / "ot_0000_part_00").exists()
    events = [e for e in lineage.events if e.get("outputs") or e.get("inputs")] + report.events
    (tmp_path / "all.ndjson").write_text("\n".join(json.dumps(e) for e in events))
    _cli(tmp_path, "ingest", "all.ndjson")
    up = json.loads(_cli(tmp_path, "lineage", f"{RS}/dev.public.ot", "--upstream", "--format", "json").stdout)
    keys = {n["key"] for n in up["nodes"]}
    assert {"s3://stitch/out", "s3://stitch/in/attendance.csv"} <= keys


def test_redshift_column_attributes_parse_and_run(tmp_path: Path, pg_database: str) -> None:
    """DISTKEY, SORTKEY, ENCODE, IDENTITY(seed, step) and DEFAULT on columns: run on PostgreSQL and in `sql lineage`."""
    sql = ("CREATE TABLE customers (id BIGINT IDENTITY(1,1), customer_id INT DISTKEY, region VARCHAR(16) SORTKEY "
           "ENCODE lzo, amount DECIMAL(10,2) ENCODE az64 DEFAULT 0 NOT NULL) DISTSTYLE KEY;\n"
           "INSERT INTO customers (customer_id, region) VALUES (7, 'eu');\n"
           "CREATE TABLE totals AS SELECT customer_id, sum(amount) AS total FROM customers GROUP BY customer_id;")
    report = run_script(sql, Target(database="dev", pg_database=pg_database, lake=tmp_path))
    assert report.errors == [] and report.executed == 3
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{pg_database}") as con:
        assert con.execute("SELECT id, customer_id, region, amount FROM customers").fetchall() == [(1, 7, "eu", 0)]
    (tmp_path / "ddl.sql").write_text(sql)
    statements = json.loads(_cli(tmp_path, "sql", "lineage", "ddl.sql", "--format", "json").stdout)
    assert [s["error"] for s in statements] == [None, None, None]
