"""The seed's Glue job, Glue notebook and EMR script on real local Spark, real MariaDB and real PostgreSQL.

One SparkSession serves the in-process tests (the pytest plugin's ``lineage_spark``); the Glue job also runs once
through the CLI, in its own process, as a user would run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineagelab.events.validation import validate_event
from lineagelab.spark_local import runner
from lineagelab.testing.lineage import WriteLineage, writes
from tests.test_validation import official_errors

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "src" / "lineagelab" / "simulator" / "seed"  # the seed's scripts, shipped for the demo
BUCKET = "s3://datazone-123456789012"
MYSQL = "mysql://dbhost:3306"
RDS = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"
RS = "redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439"
GLUE_ARN = "arn:aws:glue:us-west-2:123456789012"
SECRETS = ("lineagelab-local", "Redshift-Secret-1")
EMPLOYEE = ["EmployeeID", "Name", "Department", "Role", "HireDate", "Salary", "PerformanceRating", "Shift",
            "Location"]


def _check_all(events: list[dict[str, Any]], spec_dir: Path) -> None:
    """Every event validates against the official schemas and carries no secret."""
    assert events
    for e in events:
        validate_event(e)
        assert official_errors(spec_dir, e) == [], e["job"]["name"]
    text = json.dumps(events)
    for secret in SECRETS:
        assert secret not in text


def _run(script: Path, profile: Any, spark: Any, **kwargs: Any) -> runner.RunResult:
    result = runner.run(runner.read_script(script, profile.account), profile=profile, **kwargs)
    if result.error is not None:
        raise result.error
    return result


# -- scenario 1: the seed's Glue ETL job -----------------------------------------------------------------------
def test_glue_job_scenario_full_lineage(lineage_spark: Any, lineagelab_profile: Any, spec_dir: Path) -> None:
    os.environ["JOB_NAME"] = "lineageglue"
    result = _run(SEED / "lineageglue.py", lineagelab_profile, lineage_spark, app_name="lineageglue",
                  argv=["--JOB_NAME", "lineageglue"],
                  conf={"spark.glue.JOB_NAME": "lineageglue",
                        "spark.openlineage.facets.custom_environment_variables":
                            "[AWS_DEFAULT_REGION;GLUE_VERSION;JOB_NAME;]"})
    _check_all(result.events, spec_dir)
    kinds = [(e["eventType"], e["job"]["name"]) for e in result.events]
    job = "lineageglue.execute_create_data_source_table_as_select_command.gluedbname_attendance_with_emp1"
    # application START, one write run (three nested executions merged), application COMPLETE
    assert kinds == [("START", "lineageglue"), ("START", job), ("COMPLETE", job), ("COMPLETE", "lineageglue")]
    done = result.events[2]
    assert done["run"]["facets"]["parent"]["job"]["name"] == "lineageglue"
    env = done["run"]["facets"]["environment-properties"]["environment-properties"]
    assert env == {"AWS_DEFAULT_REGION": "us-west-2", "GLUE_VERSION": "5.0", "JOB_NAME": "lineageglue"}
    assert {(i["namespace"], i["name"]) for i in done["inputs"]} == {(MYSQL, "employeedb.employee"),
                                                                     (BUCKET, "csv/attendance.csv")}
    [out] = done["outputs"]
    assert (out["namespace"], out["name"]) == (BUCKET, "attendanceparquet")
    assert out["facets"]["symlinks"]["identifiers"] == [
        {"namespace": GLUE_ARN, "name": "table/gluedbname/attendance_with_emp1", "type": "TABLE"}]
    assert out["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "OVERWRITE"
    rows = out["outputFacets"]["outputStatistics"]["rowCount"]
    assert rows == 3  # the seed's three MySQL employees, each with attendance
    fields = [f["name"] for f in out["facets"]["schema"]["fields"]]
    assert fields == [*EMPLOYEE, "Date", "ShiftStart", "ShiftEnd", "Absent", "OvertimeHours"]
    run = WriteLineage(done)
    for col in EMPLOYEE:
        assert run.column(col) == {_edge(MYSQL, "employeedb.employee", col, "DIRECT", "IDENTITY")}
    for col in ("Date", "ShiftStart", "ShiftEnd", "Absent", "OvertimeHours"):
        assert run.column(col) == {_edge(BUCKET, "csv/attendance.csv", col, "DIRECT", "IDENTITY")}
    # issue 21: the inner join's keys are also filtered (IS NOT NULL, inferred by the optimizer), as upstream says
    assert run.dataset_dependencies == {_edge(MYSQL, "employeedb.employee", "EmployeeID", "INDIRECT", "JOIN"),
                                        _edge(BUCKET, "csv/attendance.csv", "EmployeeID", "INDIRECT", "JOIN"),
                                        _edge(MYSQL, "employeedb.employee", "EmployeeID", "INDIRECT", "FILTER"),
                                        _edge(BUCKET, "csv/attendance.csv", "EmployeeID", "INDIRECT", "FILTER")}
    # the table is in the local catalog with its data in the lake
    stored = lineage_spark.sql("SELECT count(*) AS n FROM gluedbname.attendance_with_emp1").collect()
    assert stored[0]["n"] == rows
    assert list((lineagelab_profile.lake / "datazone-123456789012" / "attendanceparquet").glob("*.parquet"))


def _edge(ns: str, name: str, field: str, typ: str, subtype: str) -> Any:
    from lineagelab.testing.lineage import Edge

    return Edge(f"{ns}/{name}", field, typ, subtype)


def test_seed_placeholder_url_reaches_mariadb_through_the_alias(lineage_spark: Any, lineagelab_profile: Any,
                                                                tmp_path: Path) -> None:
    """`jdbc:mysql://dbhost:3306/database_name` (the seed's placeholder) reads the local test database."""
    script = tmp_path / "placeholder.py"
    script.write_text(
        "df = spark.read.format('jdbc').option('url', 'jdbc:mysql://dbhost:3306/database_name')"
        ".option('dbtable', 'employee').option('user', 'lineagelab').option('password', 'lineagelab-local').load()\n"
        "assert df.count() == 3\n"
        "df.write.mode('overwrite').parquet('s3://datazone-{account_id}/placeholder/')\n")
    result = _run(script, lineagelab_profile, lineage_spark, app_name="placeholder")
    [run] = writes(result.events)
    assert run.inputs == {f"{MYSQL}/database_name.employee"}
    assert run.outputs == {f"{BUCKET}/placeholder"}
    assert "lineagelab-local" not in json.dumps(result.events)


# -- scenario 2: the Glue notebook with the seed's %%configure -------------------------------------------------
def test_glue_notebook_scenario(lineage_spark: Any, lineagelab_profile: Any, spec_dir: Path) -> None:
    script = runner.read_script(SEED / "lineagenotebook.ipynb", lineagelab_profile.account)
    assert script.conf["spark.openlineage.transport.type"] == "amazon_datazone_api"
    assert script.conf["spark.glue.JOB_NAME"] == "lineagenotebook"
    assert script.conf["spark.glue.accountId"] == "123456789012"  # {account_id} filled from the profile
    assert script.ignored_magics == ["%glue_version 5.0", "%idle_timeout 60"]
    result = runner.run(script, app_name="lineagenotebook", profile=lineagelab_profile)
    assert result.error is None
    _check_all(result.events, spec_dir)
    [run] = writes(result.events)
    assert run.job == "lineagenotebook.execute_insert_into_hadoop_fs_relation_command.notebook_avg_salary_by_location"
    assert run.inputs == {f"{BUCKET}/csv/employees.csv"}
    assert run.outputs == {f"{BUCKET}/notebook/avg_salary_by_location"}
    assert run.column("Location") == {_edge(BUCKET, "csv/employees.csv", "Location", "DIRECT", "IDENTITY")}
    assert run.column("avg_salary") == {_edge(BUCKET, "csv/employees.csv", "Salary", "DIRECT", "AGGREGATION")}
    run.assert_dependency("employees.csv::Department", "FILTER")
    run.assert_dependency("employees.csv::Location", "GROUP_BY")
    env = run.event["run"]["facets"]["environment-properties"]["environment-properties"]
    assert set(env) == {"AWS_DEFAULT_REGION", "GLUE_VERSION"}  # exactly the %%configure list


# -- scenario 3: EMR Serverless reading MySQL and Redshift -----------------------------------------------------
def test_emr_scenario_reads_mysql_and_redshift(lineage_spark: Any, lineagelab_profile: Any, spec_dir: Path) -> None:
    from lineagelab.sql.redshift import Target, run_script

    pg_db = lineagelab_profile.endpoints[2].databases["dev"]
    report = run_script((ROOT / "src/lineagelab/simulator/seed/redshift.sql").read_text(),
                        Target(database="dev", pg_database=pg_db, lake=lineagelab_profile.lake))
    assert report.errors == []
    from lineagelab.spark_local.session import parse_conf_string

    params = ("--conf spark.jars=/usr/share/aws/datazone-openlineage-spark/lib/DataZoneOpenLineageSpark-1.0.jar,"
              "s3://datazone-{account_id}/jars/mysql-connector-java-8.0.20.jar --conf spark.extraListeners="
              "io.openlineage.spark.agent.OpenLineageSparkListener --conf spark.openlineage.transport.type="
              "amazon_datazone_api --conf spark.openlineage.transport.domainId=dzd_xxxxxxxx "
              "--conf spark.glue.accountId={account_id}")
    conf = parse_conf_string(params)
    assert conf["spark.openlineage.transport.domainId"] == "dzd_xxxxxxxx"
    result = _run(SEED / "emrspark.py", lineagelab_profile, lineage_spark, app_name="Spark-Lineage",
                  preset="emr7", conf=conf, glue_globals=False)
    _check_all(result.events, spec_dir)
    [run] = writes(result.events)
    assert run.job == "spark_lineage.execute_insert_into_hadoop_fs_relation_command.emr_employee_absence_summary"
    assert run.inputs == {f"{RDS}/employeedb.employee", f"{RS}/dev.public.employeewithabsent"}
    assert run.outputs == {f"{BUCKET}/emr/employee_absence_summary"}
    rs = f"{RS}/dev.public.employeewithabsent"
    assert run.column("Name") == {_edge(RDS, "employeedb.employee", "Name", "DIRECT", "IDENTITY")}
    assert run.column("overtime_hours") == {
        _edge(RS, "dev.public.employeewithabsent", "overtimehours", "DIRECT", "AGGREGATION")}
    # sum(CASE WHEN absent THEN 1 ELSE 0 END): only literals flow; `absent` decides which (INDIRECT/CONDITIONAL)
    assert run.column("days_absent") == {
        _edge(RS, "dev.public.employeewithabsent", "absent", "INDIRECT", "CONDITIONAL")}
    run.assert_dependency(f"{rs}::employeeid", "JOIN")
    run.assert_dependency("employeedb.employee::EmployeeID", "GROUP_BY")
    summary = lineage_spark.read.parquet(str(lineagelab_profile.lake / "datazone-123456789012/emr/"
                                             "employee_absence_summary"))
    assert summary.count() == 3


# -- capture behaviour, through the pytest plugin ------------------------------------------------------------
def test_transformation_types_and_read_only_actions(lineage_spark: Any, lineage: Any) -> None:
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    src = lineage.put(SEED / "attendance.csv", "s3://unit/att.csv")
    assert src.exists()
    att = lineage_spark.read.csv("s3://unit/att.csv", header=True, inferSchema=True)
    att.count()
    att.collect()  # read-only actions emit nothing
    assert lineage.writes() == []
    df = (att.filter(F.col("Absent") == False)  # noqa: E712 - Spark column expression
          .withColumn("ot2", F.when(F.col("OvertimeHours") > 2, F.col("OvertimeHours") * 2).otherwise(0))
          .withColumn("rk", F.rank().over(Window.partitionBy("Date").orderBy("OvertimeHours")))
          .groupBy("EmployeeID")
          .agg(F.sum("ot2").alias("total"), F.max("rk").alias("best_rank"), F.sha2(F.first("EmployeeID"), 256)
               .alias("hashed"))
          .orderBy("EmployeeID"))
    df.write.mode("overwrite").parquet("s3://unit/out/")
    run = lineage.last()
    assert run.inputs == {"s3://unit/att.csv"} and run.outputs == {"s3://unit/out"}
    assert run.column("EmployeeID") == {_edge("s3://unit", "att.csv", "EmployeeID", "DIRECT", "IDENTITY")}
    run.assert_column("total", "att.csv::OvertimeHours", "AGGREGATION")
    run.assert_column("total", "att.csv::OvertimeHours", "CONDITIONAL", type="INDIRECT")
    # issue 21: a window's keys belong to the windowed column, and rank() takes no value from its order key
    run.assert_column("best_rank", "att.csv::OvertimeHours", "WINDOW", type="INDIRECT")
    run.assert_column("best_rank", "att.csv::Date", "WINDOW", type="INDIRECT")
    assert run.sources("best_rank") == set()
    for col, sub in (("Absent", "FILTER"), ("EmployeeID", "GROUP_BY"), ("EmployeeID", "SORT")):
        run.assert_dependency(f"att.csv::{col}", sub)
    hashed = run.event["outputs"][0]["facets"]["columnLineage"]["fields"]["hashed"]["inputFields"][0]
    assert hashed["transformations"][0]["masking"] is True
    with pytest.raises(AssertionError, match=r"no DIRECT/IDENTITY edge from att\.csv::Date"):
        run.assert_column("total", "att.csv::Date", "IDENTITY")


def test_failed_write_is_a_fail_event_with_the_message(lineage_spark: Any, lineage: Any) -> None:
    df = lineage_spark.createDataFrame([(1, "a")], ["id", "v"])
    df.write.parquet("s3://unit/fails/")
    with pytest.raises(Exception, match="already exists"):
        df.write.mode("errorifexists").parquet("s3://unit/fails/")
    runs = lineage.writes()
    assert [r.state for r in runs] == ["COMPLETE", "FAIL"]
    assert "already exists" in runs[1].event["run"]["facets"]["errorMessage"]["message"]
    assert runs[0].inputs == set()  # an in-memory DataFrame is no dataset


def test_jdbc_write_to_redshift_named_as_redshift(lineage_spark: Any, lineage: Any, lineagelab_profile: Any) -> None:
    import psycopg

    pg_db = lineagelab_profile.endpoints[2].databases["dev"]
    url = "jdbc:redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439/dev"
    df = lineage_spark.createDataFrame([("E1", 3)], ["employeeid", "score"]).withColumnRenamed("score", "points")
    (df.write.format("jdbc").mode("overwrite").option("url", url).option("dbtable", "public.scores")
     .option("user", "awsuser").option("password", "Redshift-Secret-1").save())
    run = lineage.last()
    assert run.outputs == {f"{RS}/dev.public.scores"}
    assert run.job == "pytest.execute_save_into_data_source_command.public_scores"
    assert "Redshift-Secret-1" not in json.dumps(lineage.events)
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{pg_db}") as con:
        assert con.execute("SELECT employeeid, points FROM public.scores").fetchall() == [("E1", 3)]


def test_unknown_aws_endpoint_is_named(lineage_spark: Any, lineage: Any) -> None:
    from lineagelab.spark_local.redirect import EndpointError

    with pytest.raises(EndpointError, match=r"no local service answers for mysql endpoint other\.rds\.amazonaws"):
        lineage_spark.read.format("jdbc").option("url", "jdbc:mysql://other.rds.amazonaws.com:3306/x")


def test_unsupported_glue_api_names_itself(lineage_spark: Any, lineagelab_profile: Any, tmp_path: Path) -> None:
    script = tmp_path / "dyf.py"
    script.write_text("from awsglue.context import GlueContext\n"
                      "glueContext.create_dynamic_frame.from_rdd(None, 'x')\n")
    result = runner.run(runner.read_script(script, "123456789012"), app_name="dyf", profile=lineagelab_profile)
    assert result.error is not None
    assert "GlueContext.create_dynamic_frame.from_rdd is not supported" in str(result.error)
    assert [e["eventType"] for e in result.events] == ["START", "FAIL"]  # the application run failed


# -- through the CLI, in a process of its own ------------------------------------------------------------------
def test_cli_glue_run_job_stores_events_and_services_check(lineagelab_profile: Any, tmp_path: Path) -> None:
    project = Path(lineagelab_profile.path).parent
    env = {**os.environ, "LINEAGELAB_STORE": str(tmp_path / "store" / "lineage.duckdb")}

    def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lineagelab", *args], cwd=project, env=env,
                              capture_output=True, text=True, check=check, timeout=600)

    checked = cli("services", "check")
    assert checked.stdout.count("ok ") == 3, checked.stdout
    done = cli("glue", "run-job", str(SEED / "lineageglue.py"), "--job-name", "lineageglue")
    assert "1 write(s) captured, 4 events -> store" in done.stdout
    write = next(line for line in done.stdout.splitlines() if line.startswith("  write 1: "))
    assert "mysql://" in write and "/employeedb.employee" in write and "-> s3://" in write and "(COMPLETE)" in write
    lin = cli("lineage", "attendance_with_emp1::Salary", "--upstream", "--format", "json")
    assert "employeedb.employee" in lin.stdout and '"Salary"' in lin.stdout
    exported = cli("export", "events", "-").stdout
    assert exported.count("\n") == 4
    assert "lineagelab-local" not in exported
    bad = cli("glue", "run-job", str(tmp_path / "missing.py"), "--job-name", "x", check=False)
    assert bad.returncode == 2 and "missing.py: no such script" in bad.stderr


# -- transports and delivery -------------------------------------------------------------------------------------
def test_events_reach_a_local_datazone_endpoint_and_files(lineage_spark: Any, lineage: Any, tmp_path: Path) -> None:
    """`amazon_datazone_api` with an endpointOverride posts to the local DataZone API; `file` appends NDJSON."""
    import boto3

    from lineagelab.spark_local import transport
    from tests.server_fixture import running_server

    lineage_spark.createDataFrame([(1,)], ["x"]).write.mode("overwrite").parquet("s3://unit/dz/")
    lineage.flush()
    events = [e for e in lineage.events if e["eventType"] in ("START", "COMPLETE")]
    with running_server(tmp_path / "server.duckdb") as server:
        conf = {"spark.openlineage.transport.type": "amazon_datazone_api",
                "spark.openlineage.transport.domainId": "dzd_test",
                "spark.openlineage.transport.endpointOverride": server.url}
        route = transport.route(conf, "us-west-2")
        assert route.kind == "datazone"
        assert transport.send(events, route) == len(events)
        client = boto3.client("datazone", endpoint_url=server.url, region_name="us-west-2",
                              aws_access_key_id="x", aws_secret_access_key="y")
        listed = client.list_lineage_events(domainIdentifier="dzd_test")["items"]
        assert len(listed) == len(events)
    assert transport.route({"spark.openlineage.transport.type": "amazon_datazone_api"}, "us-west-2").kind == "store"
    out = tmp_path / "ol" / "events.ndjson"
    file_route = transport.route({"spark.openlineage.transport.type": "file",
                                  "spark.openlineage.transport.location": str(out)}, "us-west-2")
    transport.send(events, file_route)
    assert [json.loads(line)["eventType"] for line in out.read_text().splitlines()] == \
        [e["eventType"] for e in events]
    with pytest.raises(ValueError, match=r"kafka.*is not supported"):
        transport.route({"spark.openlineage.transport.type": "kafka"}, "us-west-2")


def test_no_event_lost_when_a_script_never_stops_spark(lineagelab_profile: Any, tmp_path: Path) -> None:
    """A plain PySpark program with the capture attached, ending without spark.stop(): atexit flushes."""
    out = tmp_path / "events.ndjson"
    program = f"""
import json, sys
from lineagelab.profile import load
from lineagelab.spark_local.session import build_session, attach_capture
prof = load({str(lineagelab_profile.path)!r})
spark = build_session("no_stop", prof, home=__import__("pathlib").Path({str(tmp_path / "home")!r}))
fh = open({str(out)!r}, "a")
attach_capture(spark, prof, lambda e: (fh.write(json.dumps(e) + "\\n"), fh.flush()), {{}})
for i in range(3):
    spark.range(5).write.mode("overwrite").parquet(f"s3://unit/no_stop/{{i}}/")
# no spark.stop(), no flush: the interpreter just ends
"""
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    kinds = [(e["eventType"], e["job"]["name"].rsplit(".", 1)[-1]) for e in docs]
    assert kinds.count(("COMPLETE", "no_stop_0")) == kinds.count(("COMPLETE", "no_stop_1")) == 1
    assert ("COMPLETE", "no_stop_2") in kinds and kinds[-1] == ("COMPLETE", "no_stop")


def test_spark_sql_ctas_carries_its_query(lineage_spark: Any, lineage: Any) -> None:
    lineage_spark.createDataFrame([("a", 1), ("b", 2)], ["k", "v"]).createOrReplaceTempView("src_view")
    lineage_spark.sql("CREATE DATABASE IF NOT EXISTS unitdb")
    lineage_spark.sql("DROP TABLE IF EXISTS unitdb.totals")
    query = "CREATE TABLE unitdb.totals USING parquet AS SELECT k, sum(v) AS total FROM src_view GROUP BY k"
    lineage_spark.sql(query)
    run = lineage.last()
    assert run.job == "pytest.execute_create_data_source_table_as_select_command.unitdb_totals"
    assert run.event["job"]["facets"]["sql"]["query"] == query
    out = run.event["outputs"][0]
    assert out["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"
    assert out["facets"]["symlinks"]["identifiers"][0]["name"] == "table/unitdb/totals"
    assert [f["name"] for f in out["facets"]["schema"]["fields"]] == ["k", "total"]


def test_cli_script_error_is_one_line_with_its_line(lineagelab_profile: Any, tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("df = spark.range(3)\n\nx = df.count() / 0\n")
    proc = subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(tmp_path / "s.duckdb"), "glue",
                           "run-job", str(script), "--job-name", "broken"], cwd=Path(lineagelab_profile.path).parent,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    assert f"error: the script failed: ZeroDivisionError: division by zero ({script}:3)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "0 write(s) captured, 2 events -> store" in proc.stdout  # the application's START and FAIL


def test_glue_arguments_connections_file_and_job_bookkeeping(lineage_spark: Any, lineagelab_profile: Any,
                                                             tmp_path: Path) -> None:
    conns = tmp_path / "connections.json"
    conns.write_text(json.dumps({"warehouse": {"url": "jdbc:mysql://dbhost:3306/employeedb", "user": "lineagelab",
                                               "password": "lineagelab-local"}}))
    from lineagelab.spark_local.glue_connections import load_file

    script = tmp_path / "job.py"
    script.write_text(
        "import sys\n"
        "from awsglue.utils import getResolvedOptions\n"
        "from awsglue.job import Job\n"
        "args = getResolvedOptions(sys.argv, ['JOB_NAME', 'target'])\n"
        "job = Job(glueContext)\n"
        "job.init(args['JOB_NAME'], args)\n"
        "c = glueContext.extract_jdbc_conf('warehouse')\n"
        "assert c['url'] == 'jdbc:mysql://dbhost:3306' and c['vendor'] == 'mysql'\n"
        "df = spark.read.format('jdbc').option('url', c['fullUrl']).option('dbtable', 'employee')"
        ".option('user', c['user']).option('password', c['password']).load()\n"
        "df.select('EmployeeID').write.mode('overwrite').parquet(args['target'])\n"
        "job.commit()\n")
    result = runner.run(runner.read_script(script, "123456789012"), app_name="argjob", profile=lineagelab_profile,
                        argv=["--JOB_NAME", "argjob", "--target", "s3://datazone-123456789012/args/"],
                        connections=load_file(conns))
    assert result.error is None, result.error
    [run] = writes(result.events)
    assert run.outputs == {f"{BUCKET}/args"} and run.inputs == {f"{MYSQL}/employeedb.employee"}
    missing = runner.run(runner.read_script(script, "123456789012"), app_name="argjob", profile=lineagelab_profile,
                         argv=["--JOB_NAME", "argjob"])
    assert "the following arguments are required: --target" in str(missing.error)


def test_services_check_names_the_missing_service(tmp_path: Path) -> None:
    from lineagelab.profile import init_text

    text = (init_text("123456789012", "us-west-2", "dzd_x")
            .replace('local = "127.0.0.1:5432"', 'local = "127.0.0.1:1"')
            .replace('url = "jdbc:mysql://dbhost:3306/employeedb"', 'url = "jdbc:mysql://elsewhere:3306/x"'))
    (tmp_path / "lineagelab.toml").write_text(text)
    proc = subprocess.run([sys.executable, "-m", "lineagelab", "services", "check"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["ok", "ok", "missing"]
    assert "redshift-serverless.amazonaws.com:5439 -> 127.0.0.1:1: no PostgreSQL answers" in lines[2]
