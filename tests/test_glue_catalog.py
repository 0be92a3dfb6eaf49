"""The local Glue Data Catalog: `aws glue` JSON in, catalog reads and writes named as AWS names them, and a Glue
Studio-style script run unchanged with `lineagelab glue run-job`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineagelab.spark_local import catalog

FIX = Path(__file__).parent / "fixtures" / "glue"
ROOT = Path(__file__).resolve().parents[1]
ARN = "arn:aws:glue:us-west-2:123456789012"


def test_get_tables_json_parses_into_s3_and_jdbc_tables() -> None:
    doc = catalog.read_files([FIX / "get-databases.json", FIX / "get-tables.json", FIX / "get-table-postgres.json"])
    assert [d.name for d in doc.databases] == ["gluedbname", "lakedb"]
    emp, att, sales, scores = doc.tables
    assert (emp.qualified, emp.classification, emp.location, emp.connection, emp.is_jdbc) == (
        "gluedbname.employeedb_employee", "mysql", "employeedb.employee", "connectionname", True)
    assert att.format == "csv" and att.reader_options() == {"sep": ",", "header": "true"}
    assert [c.name for c in sales.partition_keys] == ["region"] and sales.columns[1].comment == "in EUR"
    assert scores.classification == "redshift" and scores.location == "dev.public.glue_scores"


def test_fixture_fields_are_botocore_glue_shapes() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("glue")

    def check(value: Any, shape: Any, where: str) -> None:
        if shape.type_name == "structure":
            for k, v in value.items():
                assert k in shape.members, f"{where}.{k} is not a field of {shape.name}"
                check(v, shape.members[k], f"{where}.{k}")
        elif shape.type_name == "list":
            for i, v in enumerate(value):
                check(v, shape.member, f"{where}[{i}]")

    for name, op in (("get-tables.json", "GetTables"), ("get-databases.json", "GetDatabases"),
                     ("get-table-postgres.json", "GetTable")):
        check(json.loads((FIX / name).read_text()), model.operation_model(op).output_shape, name)


@pytest.mark.parametrize(("doc", "message"), [
    ({"Tables": []}, "expected TableList, Table or DatabaseList"),
    ({"TableList": [{"Name": "t"}]}, "TableList[0]: a table needs Name and DatabaseName"),
    ({"Table": {"Name": "t", "DatabaseName": "d", "Parameters": {"classification": "mysql"},
                "StorageDescriptor": {"Location": "db.t"}}}, "d.t): a mysql table needs Parameters.connectionName"),
    ({"Table": {"Name": "t", "DatabaseName": "d", "StorageDescriptor": {"Location": "/tmp/x"}}},
     "is not an s3:// location"),
])
def test_bad_catalog_json_is_named(doc: Any, message: str) -> None:
    with pytest.raises(catalog.CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        catalog.parse_document(doc, "f.json")


def test_catalog_round_trip_in_the_metastore(lineage_spark: Any, lineagelab_profile: Any) -> None:
    doc = catalog.read_files([FIX / "get-databases.json", FIX / "get-tables.json"])
    catalog.import_document(lineage_spark, doc, lineagelab_profile.lake)
    emp = catalog.get_table(lineage_spark, "gluedbname", "employeedb_employee", lineagelab_profile.lake)
    assert (emp.classification, emp.location, emp.connection) == ("mysql", "employeedb.employee", "connectionname")
    assert emp.parameters["typeOfData"] == "table" and len(emp.columns) == 9
    sales = catalog.get_table(lineage_spark, "lakedb", "sales", lineagelab_profile.lake)
    assert sales.location == "s3://lake-123456789012/sales/" and [c.name for c in sales.partition_keys] == ["region"]
    names = [t.qualified for t in catalog.list_tables(lineage_spark, lineagelab_profile.lake, "gluedbname")]
    assert {"gluedbname.employeedb_employee", "gluedbname.attendance_csv"} <= set(names)
    with pytest.raises(catalog.CatalogError, match="not in the local Data Catalog: import it"):
        catalog.get_table(lineage_spark, "gluedbname", "nope", lineagelab_profile.lake)


STUDIO = FIX / "studio_job.py"  # as Glue Studio's visual editor generates a job


def test_glue_studio_script_runs_unchanged_with_the_cli(lineagelab_profile: Any, tmp_path: Path) -> None:
    project = Path(lineagelab_profile.path).parent
    env = {**os.environ, "LINEAGELAB_STORE": str(tmp_path / "store" / "lineage.duckdb"),
           "PYTHONPATH": str(ROOT / "src")}
    script = STUDIO

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "lineagelab", *args], cwd=project, env=env,
                              capture_output=True, text=True, check=True, timeout=600)

    imported = cli("glue", "import-catalog", str(FIX / "get-databases.json"), str(FIX / "get-tables.json"))
    assert "imported 2 database(s) and 3 table(s)" in imported.stdout
    done = cli("glue", "run-job", str(script), "--job-name", "studio")
    assert "1 write(s) captured, 4 events -> store" in done.stdout, done.stderr
    assert done.stderr.count("job bookmarks are not kept locally") == 1
    events = [json.loads(line) for line in cli("export", "events", "-").stdout.splitlines()]
    assert "lineagelab-local" not in json.dumps(events)
    [end] = [e for e in events if e["eventType"] == "COMPLETE" and e.get("outputs")]
    ins = {(i["namespace"], i["name"]): i["facets"].get("symlinks", {}).get("identifiers") for i in end["inputs"]}
    assert ins == {("mysql://dbhost:3306", "employeedb.employee"):
                   [{"namespace": ARN, "name": "table/gluedbname/employeedb_employee", "type": "TABLE"}],
                   ("s3://datazone-123456789012", "csv/attendance.csv"): None}
    [out] = end["outputs"]
    assert (out["namespace"], out["name"]) == ("s3://datazone-123456789012", "studio_out")
    assert out["facets"]["symlinks"]["identifiers"] == [
        {"namespace": ARN, "name": "table/gluedbname/studio_out", "type": "TABLE"}]
    fields = out["facets"]["columnLineage"]["fields"]
    edge = {c: [(f["name"], f["field"], f["transformations"][0]["subtype"]) for f in v["inputFields"]]
            for c, v in fields.items()}
    assert edge == {"employeeid": [("employeedb.employee", "EmployeeID", "IDENTITY")],
                    "name": [("employeedb.employee", "Name", "IDENTITY")],
                    "day": [("csv/attendance.csv", "Date", "IDENTITY")],
                    "overtime": [("csv/attendance.csv", "OvertimeHours", "TRANSFORMATION")]}
    listed = cli("glue", "tables", "gluedbname").stdout
    assert "gluedbname.studio_out  parquet  s3://datazone-123456789012/studio_out/  4 column(s)" in listed
    assert "gluedbname.employeedb_employee  mysql  employeedb.employee via connection connectionname" in listed
