"""The local DataZone lineage API, driven by the real boto3 client and openlineage-python's transports."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config

from tests.server_fixture import Server, running_server

DOMAIN = "dzd_5m2xyzabc12345"
GLUE_ARN = "arn:aws:glue:us-west-2:123456789012:table/gluedbname/attendance_with_emp1"
RS_ARN = ("arn:aws:redshift-serverless:us-west-2:123456789012:table/default-workgroup/dev/public/"
          "employeewithabsent")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # the full validation: these scenarios expect its refusals (only RunEvents; an invalid one FAILED)
    with running_server(tmp_path_factory.mktemp("dz") / "store.duckdb", strict=True) as s:
        yield s


def client(server: Server, key: str = "AKIDEXAMPLE") -> Any:
    return boto3.client("datazone", endpoint_url=server.url, region_name="us-west-2", aws_access_key_id=key,
                        aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))


@pytest.fixture(scope="module")
def posted(server: Server) -> dict[str, str]:
    """Post the seed scenarios' RunEvents; run id+type -> DataZone event id."""
    from lineagelab.simulator.seed_samples import sample_events

    dz = client(server)
    ids = {}
    for e in sample_events():
        r = dz.post_lineage_event(domainIdentifier=DOMAIN, event=orjson.dumps(e),
                                  clientToken=f"{e['run']['runId']}-{e['eventType']}")
        ids[f"{e['run']['runId']}-{e['eventType']}"] = r["id"]
        assert r["domainId"] == DOMAIN
    return ids


def test_post_and_get_event(server: Server, posted: dict[str, str], events: list[dict[str, Any]]) -> None:
    dz = client(server)
    e = events[5]
    event_id = posted[f"{e['run']['runId']}-{e['eventType']}"]
    got = dz.get_lineage_event(domainIdentifier=DOMAIN, identifier=event_id)
    assert json.loads(got["event"].read()) == e
    assert got["processingStatus"] == "SUCCESS" and got["id"] == event_id and got["domainId"] == DOMAIN
    assert got["eventTime"].isoformat().startswith(e["eventTime"][:19])


def test_idempotent_client_token(server: Server, events: list[dict[str, Any]]) -> None:
    dz = client(server)
    body = orjson.dumps(events[3])
    first = dz.post_lineage_event(domainIdentifier=DOMAIN, event=body, clientToken="token-abc")
    again = dz.post_lineage_event(domainIdentifier=DOMAIN, event=body, clientToken="token-abc")
    assert first["id"] == again["id"]
    with pytest.raises(dz.exceptions.ConflictException, match="different event"):
        dz.post_lineage_event(domainIdentifier=DOMAIN, event=orjson.dumps(events[4]), clientToken="token-abc")
    # the legacy query-string token of older botocore
    import urllib.request

    for _ in range(2):
        req = urllib.request.Request(f"{server.url}/v2/domains/{DOMAIN}/lineage/events?clientToken=legacy-1",
                                     data=orjson.dumps(events[6]), method="POST")
        with urllib.request.urlopen(req) as resp:
            ids = json.loads(resp.read())["id"]
    assert len(ids) == 14


@pytest.mark.parametrize("body,message", [
    (b"{not json", "not valid JSON"),
    (orjson.dumps({"eventTime": "2024-01-01T00:00:00Z", "producer": "https://x", "schemaURL": "https://x",
                   "dataset": {"namespace": "s3://b", "name": "k"}}), "only OpenLineage RunEvents"),
    (b"x" * 300_001, "maximum is 300,000 bytes"),
])
def test_validation_exceptions(server: Server, body: bytes, message: str) -> None:
    dz = client(server)
    with pytest.raises(dz.exceptions.ValidationException, match=message):
        dz.post_lineage_event(domainIdentifier=DOMAIN, event=body)


def test_invalid_run_event_is_accepted_but_fails_processing(server: Server, events: list[dict[str, Any]]) -> None:
    dz = client(server)
    bad = copy.deepcopy(events[8])
    bad["run"]["runId"] = "not-a-uuid"
    r = dz.post_lineage_event(domainIdentifier="dzd_otherdomain1", event=orjson.dumps(bad))
    got = dz.get_lineage_event(domainIdentifier="dzd_otherdomain1", identifier=r["id"])
    assert got["processingStatus"] == "FAILED"
    listed = dz.list_lineage_events(domainIdentifier="dzd_otherdomain1", processingStatus="FAILED")
    assert [i["id"] for i in listed["items"]] == [r["id"]]


def test_list_events_paging_filters_and_order(server: Server, posted: dict[str, str]) -> None:
    from datetime import UTC, datetime

    dz = client(server)
    seen, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = dz.list_lineage_events(domainIdentifier=DOMAIN, maxResults=5, sortOrder="ASCENDING", **kw)
        seen += page["items"]
        token = page.get("nextToken")
        if not token:
            break
    ours = [i for i in seen if i["id"] in set(posted.values())]
    assert len(ours) == len(posted)
    times = [i["eventTime"] for i in seen]
    assert times == sorted(times)
    s = ours[0]["eventSummary"]["openLineageRunEventSummary"]
    assert s["eventType"] in ("START", "COMPLETE") and s["job"]["namespace"]
    day2 = dz.list_lineage_events(domainIdentifier=DOMAIN, timestampAfter=datetime(2024, 6, 2, tzinfo=UTC))
    assert day2["items"] and all(i["eventTime"] > datetime(2024, 6, 2, tzinfo=UTC) for i in day2["items"])
    desc = dz.list_lineage_events(domainIdentifier=DOMAIN, maxResults=50, sortOrder="DESCENDING")["items"]
    assert [i["eventTime"] for i in desc] == sorted((i["eventTime"] for i in desc), reverse=True)


def test_lineage_nodes_follow_datazone_identifiers(server: Server, posted: dict[str, str]) -> None:
    dz = client(server)
    glue = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=GLUE_ARN)
    assert glue["sourceIdentifier"] == GLUE_ARN and glue["typeName"].endswith("DatasetLineageNodeType")
    assert dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=glue["id"])["sourceIdentifier"] == GLUE_ARN
    (run_ref,) = {n["id"] for n in glue["upstreamNodes"]} and glue["upstreamNodes"][:1]
    run = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=run_ref["id"])
    assert run["typeName"].endswith("JobRunLineageNodeType")
    assert run["sourceIdentifier"].startswith(
        "default.lineageglue.execute_create_data_source_table_as_select_command.gluedbname_attendance_with_emp1/")
    ups = {dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=n["id"])["sourceIdentifier"]
           for n in run["upstreamNodes"]}
    assert "s3://datazone-123456789012/csv/attendance.csv" in ups
    assert "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306/employeedb.employee" in ups
    assert any(u.endswith(".gluedbname_attendance_with_emp1") for u in ups)  # the job node
    rs = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=RS_ARN)
    assert rs["downstreamNodes"]  # the EMR job run reads it
    with pytest.raises(dz.exceptions.ResourceNotFoundException):
        dz.get_lineage_node(domainIdentifier=DOMAIN, identifier="s3://nowhere/nothing")
    from datetime import UTC, datetime

    with pytest.raises(dz.exceptions.ResourceNotFoundException, match="did not exist"):
        dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=GLUE_ARN,
                            eventTimestamp=datetime(2020, 1, 1, tzinfo=UTC))


def test_node_history_and_query_graph(server: Server, posted: dict[str, str]) -> None:
    dz = client(server)
    history = dz.list_lineage_node_history(domainIdentifier=DOMAIN, identifier=GLUE_ARN, direction="UPSTREAM")
    times = [n["eventTimestamp"] for n in history["nodes"]]
    assert len(times) == 4 and times == sorted(times, reverse=True)  # START+COMPLETE on two days
    page = dz.list_lineage_node_history(domainIdentifier=DOMAIN, identifier=GLUE_ARN, maxResults=1,
                                        sortOrder="ASCENDING")
    assert len(page["nodes"]) == 1 and page["nextToken"]
    csv = "s3://datazone-123456789012/csv/attendance.csv"
    result = dz.query_graph(domainIdentifier=DOMAIN, match=[
        {"entityPattern": {"entityType": "LINEAGE_NODE", "identifier": csv}},
        {"relationPattern": {"relationType": "LINEAGE", "relationDirection": "OUT", "maxPathLength": 2}}])
    sources = {i["lineageNode"]["sourceIdentifier"] for i in result["items"]}
    assert csv in sources and GLUE_ARN in sources
    assert ("arn:aws:redshift-serverless:us-west-2:123456789012:table/default-workgroup/dev/public/absent"
            in sources)
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{server.url}/v2/domains/{DOMAIN}/graph/query", method="POST", data=orjson.dumps(
        {"match": [{"entityPattern": {"entityType": "LINEAGE_NODE", "identifier": csv}}]}))
    with pytest.raises(urllib.error.HTTPError) as info:  # botocore checks this client-side; the server does too
        urllib.request.urlopen(req)
    assert info.value.code == 400 and "exactly two clauses" in info.value.read().decode()


def test_delete_event(server: Server, events: list[dict[str, Any]]) -> None:
    dz = client(server)
    r = dz.post_lineage_event(domainIdentifier="dzd_deletes1", event=orjson.dumps(events[2]))
    assert dz.delete_lineage_event(domainIdentifier="dzd_deletes1", identifier=r["id"])["id"] == r["id"]
    with pytest.raises(dz.exceptions.ResourceNotFoundException):
        dz.get_lineage_event(domainIdentifier="dzd_deletes1", identifier=r["id"])
    with pytest.raises(dz.exceptions.ResourceNotFoundException):
        dz.delete_lineage_event(domainIdentifier="dzd_deletes1", identifier=r["id"])


def test_bad_domain_id(server: Server, events: list[dict[str, Any]]) -> None:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(f"{server.url}/v2/domains/notadomain/lineage/events", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req)
    assert info.value.code == 400 and info.value.headers["x-amzn-ErrorType"] == "ValidationException"


def test_openlineage_python_transports_deliver(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.amazon_datazone import AmazonDataZoneConfig, AmazonDataZoneTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    from lineagelab.simulator import seed_samples as seed

    store = tmp_path / "ol.duckdb"
    with running_server(store, token="s3cret") as srv:
        http = OpenLineageClient(transport=HttpTransport(HttpConfig.from_dict(
            {"url": srv.url, "auth": {"type": "api_key", "apiKey": "s3cret"}, "compression": "gzip"})))
        for e in seed.glue_job("2024-07-01"):
            http.emit(e)
        import os

        os.environ.update(AWS_ACCESS_KEY_ID="s3cret", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-west-2")
        dz = OpenLineageClient(transport=AmazonDataZoneTransport(AmazonDataZoneConfig.from_dict(
            {"domainId": DOMAIN, "region": "us-west-2", "endpointOverride": srv.url})))
        for e in seed.emr("2024-07-01"):
            dz.emit(e)
        listed = client(srv, key="s3cret").list_lineage_events(domainIdentifier=DOMAIN)["items"]
        assert len(listed) == 4
    out = subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store), "lineage",
                          "employee_absence_summary", "--upstream", "--format", "json"],
                         capture_output=True, text=True, check=True)
    keys = {n["key"] for n in json.loads(out.stdout)["nodes"]}
    assert "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306/employeedb.employee" in keys
    glue = subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(store), "lineage",
                           "attendance_with_emp1", "--format", "json"], capture_output=True, text=True, check=True)
    assert any("csv/attendance.csv" in n["key"] for n in json.loads(glue.stdout)["nodes"])




def test_lineage_node_forms_from_the_schema_facet(server: Server, posted: dict[str, str]) -> None:
    dz = client(server)
    forms = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=GLUE_ARN)["formsOutput"]
    assert [(f["formName"], f["typeName"]) for f in forms] == [("GlueTableForm", "amazon.datazone.GlueTableFormType")]
    content = json.loads(forms[0]["content"])
    assert (content["databaseName"], content["tableName"]) == ("gluedbname", "attendance_with_emp1")
    columns = [c["columnName"] for c in content["columns"]]
    assert "EmployeeID" in columns and "Salary" not in columns  # the second day's run dropped it
    day1 = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=GLUE_ARN,
                               eventTimestamp="2024-06-01T23:00:00Z")["formsOutput"]
    assert "Salary" in [c["columnName"] for c in json.loads(day1[0]["content"])["columns"]]
    rs = json.loads(dz.get_lineage_node(domainIdentifier=DOMAIN, identifier=RS_ARN)["formsOutput"][0]["content"])
    assert (rs["databaseName"], rs["schemaName"], rs["tableName"]) == ("dev", "public", "employeewithabsent")
    job = dz.get_lineage_node(domainIdentifier=DOMAIN, identifier="default.lineageglue")
    assert job["formsOutput"] == []
