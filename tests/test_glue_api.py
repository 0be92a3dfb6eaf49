"""The local Glue Data Catalog lineage API (``POST /``, AWS JSON 1.1), driven by the real boto3 glue client."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config

from tests.server_fixture import Server, running_server

GLUE_ARN = "arn:aws:glue:us-west-2:123456789012:table/gluedbname/attendance_with_emp1"
RS_ARN = ("arn:aws:redshift-serverless:us-west-2:123456789012:table/default-workgroup/dev/public/"
          "employeewithabsent")
CSV = "s3://datazone-123456789012/csv/attendance.csv"
TABLE_NS, TABLE = "arn:aws:glue:us-west-2:123456789012", "table/gluedbname/departments"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("glue") / "store.duckdb") as s:
        yield s


def glue(server: Server) -> Any:
    return boto3.client("glue", endpoint_url=server.url, region_name="us-west-2", aws_access_key_id="AKIDEXAMPLE",
                        aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))


def dataset_event(fields: list[str], when: str) -> dict[str, Any]:
    return {
        "eventTime": when, "producer": "https://example.com/catalog-sync", "schemaURL":
        "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
        "dataset": {"namespace": TABLE_NS, "name": TABLE, "facets": {"schema": {
            "_producer": "https://example.com/catalog-sync",
            "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
            "fields": [{"name": f, "type": "string"} for f in fields]}}},
    }


@pytest.fixture(scope="module")
def posted(server: Server) -> list[dict[str, Any]]:
    from lineagelab.simulator.seed_samples import sample_events

    client = glue(server)
    events = sample_events()
    for e in events:
        assert client.post_lineage_event(Event=orjson.dumps(e).decode())["ResponseMetadata"]["HTTPStatusCode"] == 200
    return events


def view(server: Server, path: str) -> Any:
    with urllib.request.urlopen(f"{server.url}{path}") as resp:
        return json.loads(resp.read())


def test_run_events_make_nodes_found_by_id_and_by_glue_table_arn(server: Server, posted: list[Any]) -> None:
    client = glue(server)
    table = client.get_lineage_node(Identifier=GLUE_ARN)
    assert table["SourceIdentifier"] == GLUE_ARN and table["TypeName"].endswith("DatasetLineageNodeType")
    assert table["Name"] and table["EventTimestamp"].year >= 2024
    assert client.get_lineage_node(Identifier=table["Id"])["SourceIdentifier"] == GLUE_ARN
    assert table["UpstreamNodes"] and not table["DownstreamNodes"]
    run = client.get_lineage_node(Identifier=table["UpstreamNodes"][0]["Id"])
    assert run["TypeName"].endswith("JobRunLineageNodeType")
    assert any(n["Id"] == table["Id"] for n in run["DownstreamNodes"])
    ups = {client.get_lineage_node(Identifier=n["Id"])["SourceIdentifier"] for n in run["UpstreamNodes"]}
    assert CSV in ups
    assert "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306/employeedb.employee" in ups
    assert any(u.endswith(".gluedbname_attendance_with_emp1") for u in ups)  # the job node
    forms = {f["TypeName"]: json.loads(f["Content"]) for f in run["FormsOutput"]}
    assert "environment-properties" in forms  # the run's facets are its forms
    rs = client.get_lineage_node(Identifier=RS_ARN)
    assert rs["DownstreamNodes"] and rs["UpstreamNodes"]  # the EMR run reads it; the CTAS writes it
    assert len(client.get_lineage_node(Identifier=CSV)["DownstreamNodes"]) >= 2


def test_an_identical_event_is_stored_once(server: Server, posted: list[Any]) -> None:
    before = view(server, "/api/v1/stats")
    glue(server).post_lineage_event(Event=json.dumps(posted[3], indent=2))  # same content, other spelling
    assert view(server, "/api/v1/stats") == before


def test_dataset_events_give_a_dataset_its_schema_and_versions_without_a_run(server: Server,
                                                                             posted: list[Any]) -> None:
    client = glue(server)
    client.post_lineage_event(Event=orjson.dumps(dataset_event(["id", "name"], "2025-03-01T10:00:00Z")).decode())
    client.post_lineage_event(Event=orjson.dumps(dataset_event(["id", "name", "floor"],
                                                               "2025-03-02T10:00:00Z")).decode())
    node = client.get_lineage_node(Identifier=f"{TABLE_NS}:{TABLE}")
    assert node["TypeName"].endswith("DatasetLineageNodeType") and not node["UpstreamNodes"]
    forms = {f["TypeName"]: json.loads(f["Content"]) for f in node["FormsOutput"]}
    assert [f["name"] for f in forms["schema"]["fields"]] == ["id", "name", "floor"]  # the latest event's
    details = view(server, f"/api/v1/viewer/node?node={TABLE_NS}/{TABLE}")
    versions = details["versions"]
    assert len(versions) == 2 and not details["runs"]  # two schemas, two versions; no run involved
    assert all(v["run_id"] is None and v["schema_hash"] for v in versions)
    assert len({v["schema_hash"] for v in versions}) == 2
    assert [f["name"] for f in details["schema"]] == ["id", "name", "floor"]


def test_errors_are_the_models_classes(server: Server) -> None:
    client = glue(server)
    big = dataset_event(["x" * 1000] * 320, "2025-03-03T10:00:00Z")
    with pytest.raises(client.exceptions.InvalidInputException, match="300,000"):
        client.post_lineage_event(Event=orjson.dumps(big).decode())
    with pytest.raises(client.exceptions.InvalidInputException, match="not valid JSON"):
        client.post_lineage_event(Event="{nope")
    job_event = {"eventTime": "2025-03-03T10:00:00Z", "producer": "p", "schemaURL":
                 "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
                 "job": {"namespace": "n", "name": "j"}, "inputs": [], "outputs": []}
    with pytest.raises(client.exceptions.InvalidInputException, match="RunEvent or DatasetEvent"):
        client.post_lineage_event(Event=orjson.dumps(job_event).decode())
    with pytest.raises(client.exceptions.EntityNotFoundException, match="not found"):
        client.get_lineage_node(Identifier="s3://nowhere/nothing")
    with pytest.raises(client.exceptions.InvalidInputException, match="2,150"):
        client.get_lineage_node(Identifier="x" * 2151)
    with pytest.raises(client.exceptions.ClientError, match="UnknownOperationException"):
        client.get_table(DatabaseName="d", Name="t")


def test_token_is_checked_on_the_glue_api(tmp_path: Any) -> None:
    with running_server(tmp_path / "store.duckdb", token="s3cret") as s:
        ok = boto3.client("glue", endpoint_url=s.url, region_name="us-west-2", aws_access_key_id="s3cret",
                          aws_secret_access_key="x", config=Config(retries={"max_attempts": 1}))
        with pytest.raises(ok.exceptions.EntityNotFoundException):
            ok.get_lineage_node(Identifier="s3://b/k")
        with pytest.raises(ok.exceptions.AccessDeniedException):
            glue(s).get_lineage_node(Identifier="s3://b/k")
