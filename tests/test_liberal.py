"""Liberal acceptance (issue 23): events real producers send that break the spec are stored with warnings, through
the CLI, the collector and the DataZone API; ``--strict`` refuses them with the full validation's messages."""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config

from lineagelab.store.store import Store
from tests.server_fixture import Server, running_server
from tests.test_cli import run

DS_URL = "https://openlineage.io/spec/facets/1-0-0/DatasourceDatasetFacet.json"


def _source(name: str, uri: str) -> dict[str, Any]:
    return {"dataSource": {"_producer": "https://x", "_schemaURL": DS_URL, "name": name, "uri": uri}}


def deviant_events() -> list[dict[str, Any]]:
    """One event per deviation the issue names (openlineage-spark 1.23 and others)."""
    run_id = str(uuid.uuid4())
    base = {"eventType": "COMPLETE", "eventTime": "2024-05-01T10:00:00Z", "producer": "https://x",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
            "run": {"runId": run_id}, "job": {"namespace": "spark", "name": "ctas_jöb"},
            "inputs": [{"namespace": "file", "name": "/data/in.csv", "facets": _source("file", "file")}],
            "outputs": [{"namespace": "bigquery", "name": "proj.ds.tëble", "facets": _source("bigquery", "bigquery")}]}
    zoneless = {**base, "eventType": "START", "eventTime": "2024-05-01T09:59:00.123456789"}
    no_schema_url = {k: v for k, v in base.items() if k != "schemaURL"} | {"eventType": "RUNNING",
                                                                          "eventTime": "2024-05-01T09:59:30+02:00"}
    bare_producer = {**base, "producer": "producer", "run": {"runId": str(uuid.uuid4())}}
    big = {**base, "run": {"runId": str(uuid.uuid4()), "facets": {"blob": {"_producer": "https://x",
           "_schemaURL": "https://x/Blob.json", "data": "x" * 1_000_000}}}}
    dataset = {"eventTime": "2024-05-01T10:01:00", "producer": "producer",
               "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
               "dataset": {"namespace": "file", "name": "/data/ünïcode.csv", "facets": _source("file", "file")}}
    job = {"eventTime": "2024-05-01T10:02:00", "producer": "producer",
           "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
           "job": {"namespace": "spark", "name": "static_jöb"},
           "inputs": [{"namespace": "file", "name": "/data/in.csv"}],
           "outputs": [{"namespace": "file", "name": "/data/out.csv", "facets": _source("file", "file")}]}
    return [base, zoneless, no_schema_url, bare_producer, big, dataset, job]


def test_cli_stores_them_with_warnings_and_strict_refuses(tmp_path: Path) -> None:
    docs = deviant_events()
    (tmp_path / "in.ndjson").write_bytes(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")
    strict = run(tmp_path, "ingest", "--strict", "in.ndjson", check=False)
    assert strict.returncode == 2 and "error: --strict: " in strict.stderr
    assert "$.inputs[0].facets.dataSource.uri" in strict.stderr  # the full validation's first problem
    proc = run(tmp_path, "ingest", "in.ndjson")
    assert proc.stdout.startswith(f"accepted {len(docs)}, duplicates 0, rejected 0, warnings ")
    figures = json.loads(run(tmp_path, "store", "stats", "--format", "json").stdout)
    assert figures["events_with_warnings"] == len(docs) and figures["warnings"] >= len(docs)
    assert (figures["dataset_events"], figures["job_events"]) == (1, 1)
    listed = json.loads(run(tmp_path, "warnings", "--format", "json", "--limit", "0").stdout)
    paths = {w["path"] for w in listed}
    assert {"$.inputs[0].facets.dataSource.uri", "$.outputs[0].facets.dataSource.uri", "$.eventTime", "$",
            "$.producer", "$.dataset.facets.dataSource.uri"} <= paths
    lineage = run(tmp_path, "lineage", "ctas_jöb", "--upstream").stdout
    assert "file/data/in.csv" in lineage
    assert "proj.ds.tëble" in run(tmp_path, "impact", "/data/in.csv").stdout
    with Store.open(tmp_path / "store.duckdb", read_only=True) as s:
        times = {r[0] for r in s.con.execute("SELECT event_time FROM raw_events").fetchall()}
    assert any(t.microsecond == 123456 for t in times)  # nanoseconds kept to microseconds, zone-less taken as UTC


def test_unreadable_events_are_still_refused(tmp_path: Path) -> None:
    good = deviant_events()[0]
    bad = [{**good, "eventTime": "yesterday"}, {**good, "run": {}}, {**good, "job": {"namespace": "n"}}, [1],
           {k: v for k, v in good.items() if k != "eventTime"}]
    (tmp_path / "in.ndjson").write_bytes(b"\n".join(orjson.dumps(d) for d in bad) + b"\n")
    proc = run(tmp_path, "ingest", "in.ndjson", check=False)
    assert proc.stdout.strip() == f"accepted 0, duplicates 0, rejected {len(bad)}"
    for text in ("$.eventTime: not an ISO-8601 timestamp", "$.run: missing required property 'runId'",
                 "$.job: missing required property 'name'", "an event must be a JSON object"):
        assert text in proc.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("liberal") / "store.duckdb") as s:
        yield s


def _post(url: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_collector_and_datazone_store_them_with_warnings(server: Server) -> None:
    docs = deviant_events()
    for doc in docs:
        status, body = _post(f"{server.url}/api/v1/lineage", orjson.dumps(doc))
        assert status == 201 and body["warnings"], body
    dz = boto3.client("datazone", endpoint_url=server.url, region_name="us-west-2", aws_access_key_id="a",
                      aws_secret_access_key="s", config=Config(retries={"max_attempts": 1}))
    for doc in deviant_events():
        if len(orjson.dumps(doc)) > 300_000:
            continue  # DataZone's own limit stands
        r = dz.post_lineage_event(domainIdentifier="dzd_liberal1", event=orjson.dumps(doc))
        got = dz.get_lineage_event(domainIdentifier="dzd_liberal1", identifier=r["id"])
        assert got["processingStatus"] == "SUCCESS"
    node = dz.get_lineage_node(domainIdentifier="dzd_liberal1", identifier="bigquery/proj.ds.tëble")
    assert node["upstreamNodes"]
    with urllib.request.urlopen(f"{server.url}/api/v1/stats", timeout=30) as r:
        figures = json.loads(r.read())
    assert figures.get("events_with_warnings", 1) >= len(docs)


def test_strict_server_refuses_them(tmp_path: Path) -> None:
    with running_server(tmp_path / "store.duckdb", strict=True) as s:
        status, body = _post(f"{s.url}/api/v1/lineage", orjson.dumps(deviant_events()[0]))
    assert status == 400 and body["path"] == "$.inputs[0].facets.dataSource.uri"


def test_a_job_events_facets_reach_the_job_details(tmp_path: Path) -> None:
    from lineagelab.graph.details import job_details
    from lineagelab.graph.resolve import resolve
    from lineagelab.store.sources import Documents

    job = deviant_events()[-1]
    job["job"]["facets"] = {"jobType": {"_producer": "https://x", "_schemaURL":
                                        "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json",
                                        "processingType": "BATCH", "integration": "SPARK", "jobType": "JOB"}}
    with Store.open(tmp_path / "s.duckdb") as s:
        assert s.ingest(Documents([job], "t")).accepted == 1
        details = job_details(s.con, resolve(s.con, "static_jöb").node)
    assert details.facets["jobType"]["integration"] == "SPARK"
