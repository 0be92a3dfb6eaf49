"""Replay to the local DataZone API with the real boto3 client: exactly once, through faults and a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from lineagelab.ingest.reader import read_events
from lineagelab.store.sources import Events
from lineagelab.store.store import Store
from tests.conftest import write_ndjson
from tests.fault_proxy import fault_proxy
from tests.server_fixture import Server, running_server

DOMAIN = "dzd_replay12345"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "AKIDLOCAL", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-west-2"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "remote.duckdb") as s:
        yield s


def dz(server_url: str) -> Any:
    return boto3.client("datazone", endpoint_url=server_url, region_name="us-west-2", aws_access_key_id="a",
                        aws_secret_access_key="b")


def remote_events(url: str, domain: str = DOMAIN) -> list[dict[str, Any]]:
    client, items, token = dz(url), [], None
    while True:
        page = client.list_lineage_events(domainIdentifier=domain, maxResults=50, **({"nextToken": token} if token
                                                                                      else {}))
        items += page["items"]
        token = page.get("nextToken")
        if not token:
            return items


def local_store(tmp_path: Path, docs: list[dict[str, Any]]) -> Path:
    path = tmp_path / ".lineagelab" / "lineage.duckdb"
    with Store.open(path) as s:
        s.ingest(Events(read_events([write_ndjson(tmp_path / "events.ndjson", docs)])))
    return path


def cli(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **AWS_ENV, "LINEAGELAB_STORE": str(tmp_path / ".lineagelab" / "lineage.duckdb"),
           "COLUMNS": "250"}
    proc = subprocess.run([sys.executable, "-m", "lineagelab", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    if check and proc.returncode:
        raise AssertionError(proc.stdout + proc.stderr)
    return proc


def test_full_replay_of_the_seed_scenarios_exactly_once(tmp_path: Path, server: Server,
                                                        events: list[dict[str, Any]]) -> None:
    local_store(tmp_path, events)
    first = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url)
    assert "22 RunEvents selected, 22 sent, 0 already sent, 0 failed" in first.stdout
    again = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url)
    assert "22 RunEvents selected, 0 sent, 22 already sent" in again.stdout
    remote = remote_events(server.url)
    assert len(remote) == 22
    node = dz(server.url).get_lineage_node(
        domainIdentifier=DOMAIN, identifier="arn:aws:glue:us-west-2:123456789012:table/gluedbname/attendance_with_emp1")
    assert node["upstreamNodes"]
    status = cli(tmp_path, "replay", "status").stdout
    assert f"datazone:{DOMAIN}@{server.url}" in status and "22" in status


def test_mapping_rewrites_local_identities(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    local = json.loads(json.dumps([e for e in events if e["job"]["name"].startswith("spark_lineage")]))
    text = json.dumps(local).replace("lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", "127.0.0.1")
    local_store(tmp_path, json.loads(text))
    (tmp_path / "map.toml").write_text(
        '[aws]\naccount = "123456789012"\nregion = "us-west-2"\n'
        '[[map.namespace]]\nlocal = "mysql://127.0.0.1:3306"\n'
        'aws = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"\n')
    dry = cli(tmp_path, "replay", "--dry-run", "--map", "map.toml", "--format", "json")
    lines = [json.loads(x) for x in dry.stdout.splitlines()]
    ids = {i for x in lines for i in x["source_identifiers"]["inputs"]}
    assert "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306/employeedb.employee" in ids
    assert not any("127.0.0.1" in json.dumps(x["event"]) for x in lines)  # column lineage too
    cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url, "--map", "map.toml")
    client = dz(server.url)
    assert client.get_lineage_node(domainIdentifier=DOMAIN, identifier=(
        "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306/employeedb.employee"))["id"]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_lineage_node(domainIdentifier=DOMAIN, identifier="mysql://127.0.0.1:3306/employeedb.employee")
    (tmp_path / "map.toml").rename(tmp_path / "lineagelab.toml")  # the project profile is read by default
    lines = [json.loads(x) for x in cli(tmp_path, "replay", "--dry-run", "--format", "json").stdout.splitlines()]
    assert not any("127.0.0.1" in json.dumps(x["event"]) for x in lines)
    bad = cli(tmp_path, "replay", "--dry-run", "--map", "nope.toml", check=False)
    assert bad.returncode == 2 and "cannot read mapping profile nope.toml" in bad.stderr


def test_faults_are_retried_with_the_same_token(tmp_path: Path, server: Server,
                                                events: list[dict[str, Any]]) -> None:
    local_store(tmp_path, events)

    def plan(n: int) -> str | None:
        return {3: "500", 4: "500", 7: "429", 10: "drop-after", 15: "slow", 18: "drop-after", 21: "500"}.get(n)

    with fault_proxy(server.url, plan) as (proxy, log):
        out = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", proxy)
    assert "22 sent" in out.stdout
    assert sum("drop-after" in x for x in log) == 2 and sum(" 500" in x for x in log) == 3
    remote = remote_events(server.url)
    assert len(remote) == 22  # the two dropped answers did not create duplicates


def test_kill_9_mid_replay_then_resume(tmp_path: Path, server: Server) -> None:
    from lineagelab.simulator.synthetic import Shape
    from lineagelab.simulator.synthetic import events as synthetic

    docs = list(synthetic(Shape(jobs=150, runs_per_job=1, columns=3)))  # 300 RunEvents
    local_store(tmp_path, docs)
    with fault_proxy(server.url, lambda n: "slow", delay=0.02) as (proxy, _):
        env = {**os.environ, **AWS_ENV, "LINEAGELAB_STORE": str(tmp_path / ".lineagelab" / "lineage.duckdb")}
        proc = subprocess.Popen([sys.executable, "-m", "lineagelab", "replay", "--domain", DOMAIN, "--endpoint-url",
                                 proxy], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(remote_events(server.url)) < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = len(remote_events(server.url))
        assert 0 < partial < 300
        out = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", proxy)
    assert "300 RunEvents selected" in out.stdout
    remote = remote_events(server.url)
    assert len(remote) == 300  # every event exactly once: none skipped, none doubled
    bodies = {json.dumps(dz(server.url).get_lineage_event(domainIdentifier=DOMAIN, identifier=r["id"])["event"].read()
                         .decode()) for r in remote[:20]}
    assert len(bodies) == 20


def test_refused_and_rejected_events_are_reported_and_the_replay_goes_on(tmp_path: Path, server: Server,
                                                                        events: list[dict[str, Any]]) -> None:
    huge = json.loads(json.dumps(events[4]))
    huge["run"]["runId"] = "0190a0b0-0000-7000-8000-00000000beef"
    huge["outputs"][0]["name"] = "x" * 310_000  # an identity cannot be trimmed
    docs = [events[0], huge, events[1]]
    local_store(tmp_path, docs)
    out = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url, check=False)
    assert out.returncode == 1
    assert "3 RunEvents selected, 2 sent" in out.stdout and "1 refused" in out.stdout
    assert "DataZone accepts at most 300,000" in out.stderr
    assert len(remote_events(server.url)) == 2


def test_heavy_facets_are_dropped_to_fit(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    from lineagelab.aws_targets.mapping import Mapping_
    from lineagelab.aws_targets.replay import prepare

    big = json.loads(json.dumps(events[4]))
    big["run"]["facets"]["spark_properties"] = {"_producer": "https://x", "_schemaURL": "https://x/y",
                                                "properties": {"k": "v" * 320_000}}
    p = prepare("id", orjson.dumps(big).decode(), Mapping_())
    assert p.problem is None and p.dropped == ["spark_properties"] and len(p.body) < 300_000
    assert p.doc["outputs"][0]["facets"]["columnLineage"]  # lineage itself kept


def test_replay_to_an_openlineage_http_backend(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    local_store(tmp_path, events)
    out = cli(tmp_path, "replay", "--to", server.url)
    assert "22 sent" in out.stdout
    again = cli(tmp_path, "replay", "--to", server.url)
    assert "0 sent, 22 already sent" in again.stdout
    import urllib.request

    stats = json.loads(urllib.request.urlopen(f"{server.url}/api/v1/stats").read())
    assert stats["events"] == 22


def test_wait_processed_polls_until_success(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    local_store(tmp_path, [events[0], events[1]])
    out = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url, "--wait-processed", "20")
    assert "2 sent" in out.stdout
    with Store.open(tmp_path / ".lineagelab" / "lineage.duckdb", read_only=True) as s:
        statuses = [r[0] for r in s.con.execute("SELECT processing_status FROM replay_ledger").fetchall()]
    assert statuses == ["SUCCESS", "SUCCESS"]
    assert "processed" in cli(tmp_path, "replay", "status").stdout


# -- the ledger's in-flight state ---------------------------------------------------------------------------------
def _status_row(tmp_path: Path, target: str) -> list[str]:
    """The `replay status` table's row for ``target``: target, events, sent, failed, in_flight, processed, …"""
    out = cli(tmp_path, "replay", "status").stdout
    row = next(line for line in out.splitlines() if target in line)
    return [cell.strip() for cell in row.strip("│┃ ").split("│")]


@pytest.mark.parametrize("kind", ["datazone", "http"])
def test_an_answer_lost_leaves_the_event_in_flight_until_resumed(tmp_path: Path, server: Server, kind: str,
                                                                 events: list[dict[str, Any]]) -> None:
    """Every answer dropped after the request reached the target: the replay stops with its first event `sending`
    (the window's others, never requested, leave no row); `replay status` shows it in flight; the resumed replay
    says so and the target holds each event once."""
    from lineagelab.aws_targets import ledger
    from lineagelab.aws_targets.mapping import Mapping_
    from lineagelab.aws_targets.replay import replay
    from lineagelab.events.sinks import DeliveryError, ExactSink, RetryPolicy
    from lineagelab.events.sinks.datazone import DataZoneSink
    from lineagelab.events.sinks.http import HttpSink

    path = local_store(tmp_path, [e for e in events if "run" in e][:3])
    dropping = {"on": True}
    with fault_proxy(server.url, lambda n: "drop-after" if dropping["on"] else None) as (proxy, log):
        policy = RetryPolicy(attempts=2, backoff=0.05)

        def sink() -> ExactSink:
            if kind == "datazone":
                return DataZoneSink(DOMAIN, region="us-west-2", endpoint_url=proxy, policy=policy)
            return HttpSink(proxy, policy=policy)

        with Store.open(path) as s, sink() as target, pytest.raises(DeliveryError):
            replay(s, target, Mapping_())
        assert len(log) == 2  # the first event, and its retry
        with Store.open(path, read_only=True) as s:
            [row] = ledger.summary(s.con)
        assert (row["events"], row["sent"], row["in_flight"]) == (1, 0, 1)
        assert _status_row(tmp_path, target.target)[1:5] == ["1", "0", "0", "1"]

        dropping["on"] = False
        with Store.open(path) as s, sink() as target:
            report = replay(s, target, Mapping_())
        assert (report.resumed, report.sent, report.already_sent) == (1, 3, 0)
        assert _status_row(tmp_path, target.target)[1:5] == ["3", "3", "0", "0"]
    if kind == "datazone":
        assert len(remote_events(server.url)) == 3  # the lost answer's event was not doubled: same Client-Token
    else:
        stats = json.loads(urllib.request.urlopen(f"{server.url}/api/v1/stats").read())
        assert stats["events"] == 3  # our collector deduplicates by content


def test_dry_run_is_a_table_by_default(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    docs = [e for e in events if e["job"]["name"].startswith("spark_lineage")]
    local_store(tmp_path, docs)
    table = cli(tmp_path, "replay", "--dry-run").stdout
    header = next(line for line in table.splitlines() if "source identifiers" in line)
    assert [w in header for w in ("event", "job", "outputs", "size")] == [True] * 4
    assert "spark_lineage" in table and "employeedb.employee" in table and " B " in table
    assert '"eventType"' not in table  # no bodies
    runs = [e for e in docs if e.get("eventType")]
    assert len(table) < sum(len(json.dumps(e)) for e in runs)
    lines = [json.loads(x) for x in cli(tmp_path, "replay", "--dry-run", "--format", "json").stdout.splitlines()]
    assert len(lines) == len(runs) and all("event" in x for x in lines)
    bad = cli(tmp_path, "replay", "--dry-run", "--format", "yaml", check=False)
    assert bad.returncode == 2 and "--format 'yaml' is not table or json" in bad.stderr
