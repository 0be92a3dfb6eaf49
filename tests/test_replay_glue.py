"""``replay --service glue`` to the local Glue lineage API with the real boto3 client: the ledger's guarantee twice
over, and through a kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.fault_proxy import fault_proxy
from tests.server_fixture import Server, running_server
from tests.test_replay import AWS_ENV, cli, local_store

GLUE_ARN = "arn:aws:glue:us-west-2:123456789012:table/gluedbname/attendance_with_emp1"
DATASET_EVENT = {
    "eventTime": "2024-06-03T10:00:00Z", "producer": "https://example.com/catalog-sync",
    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
    "dataset": {"namespace": "arn:aws:glue:us-west-2:123456789012", "name": "table/gluedbname/departments"},
}


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with running_server(tmp_path / "remote.duckdb") as s:
        yield s


def stats(server: Server) -> dict[str, Any]:
    return dict(json.loads(urllib.request.urlopen(f"{server.url}/api/v1/stats").read()))


def test_replay_to_glue_twice(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    local_store(tmp_path, [*events, DATASET_EVENT])
    dry = cli(tmp_path, "replay", "--service", "glue", "--dry-run", "--format", "json")
    assert len(dry.stdout.splitlines()) == 23 and "RunEvents and DatasetEvents would be sent" in dry.stderr
    first = cli(tmp_path, "replay", "--service", "glue", "--endpoint-url", server.url)
    assert "23 events selected (22 RunEvents, 1 DatasetEvents), 23 sent, 0 already sent, 0 failed" in first.stdout
    again = cli(tmp_path, "replay", "--service", "glue", "--endpoint-url", server.url)
    assert "23 events selected (22 RunEvents, 1 DatasetEvents), 0 sent, 23 already sent" in again.stdout
    remote = stats(server)
    assert (remote["run_events"], remote["dataset_events"]) == (22, 1)
    glue = boto3.client("glue", endpoint_url=server.url, region_name="us-west-2", aws_access_key_id="a",
                        aws_secret_access_key="b")
    assert glue.get_lineage_node(Identifier=GLUE_ARN)["UpstreamNodes"]
    assert f"glue@{server.url}" in cli(tmp_path, "replay", "status").stdout
    bad = cli(tmp_path, "replay", "--service", "glue", "--domain", "dzd_x", check=False)
    assert bad.returncode == 2 and "--service glue takes no --domain" in bad.stderr


def test_replay_to_glue_killed_and_resumed_stores_every_run_event_once(tmp_path: Path, server: Server) -> None:
    from lineagelab.simulator.synthetic import Shape
    from lineagelab.simulator.synthetic import events as synthetic

    docs = list(synthetic(Shape(jobs=150, runs_per_job=1, columns=3)))  # 300 RunEvents
    local_store(tmp_path, docs)
    with fault_proxy(server.url, lambda n: "slow", delay=0.02) as (proxy, _):
        env = {**os.environ, **AWS_ENV, "LINEAGELAB_STORE": str(tmp_path / ".lineagelab" / "lineage.duckdb")}
        proc = subprocess.Popen([sys.executable, "-m", "lineagelab", "replay", "--service", "glue",
                                 "--endpoint-url", proxy], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while stats(server)["run_events"] < 60 and time.monotonic() < deadline:
            time.sleep(0.2)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = stats(server)["run_events"]
        assert 0 < partial < 300
        out = cli(tmp_path, "replay", "--service", "glue", "--endpoint-url", proxy)
    assert "300 events selected (300 RunEvents, 0 DatasetEvents)" in out.stdout
    sent = int(out.stdout.split(" sent,")[0].rsplit(" ", 1)[1])
    already = int(out.stdout.split(" already sent")[0].rsplit(" ", 1)[1])
    assert sent + already == 300 and 0 < already <= partial
    # only what was left in flight is sent again (one request at a time: at most one), and the resume says so
    assert sent - (300 - partial) <= 1
    if sent > 300 - partial:
        assert "resumed 1 events an earlier replay left in flight" in out.stderr
    assert stats(server)["run_events"] == 300  # every RunEvent exactly once there
