"""Every sink against real parts: our collector over real HTTP, a real boto3 client on our local DataZone API, a
file, the console, the store."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from lineagelab.events.sinks import DeliveryError, ExactSink, Refused, RetryPolicy, Sink
from lineagelab.events.sinks.datazone import MAX_EVENT_BYTES, DataZoneSink
from lineagelab.events.sinks.http import HttpSink, send_batches
from lineagelab.events.sinks.local import CallbackSink, ConsoleSink, FileSink
from lineagelab.ingest.reader import read_events
from lineagelab.store.sink import StoreSink
from lineagelab.store.store import Store
from tests.conftest import write_ndjson
from tests.fault_proxy import fault_proxy
from tests.server_fixture import Server, running_server

DOMAIN = "dzd_sinks12345"
QUICK = RetryPolicy(attempts=3, backoff=0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "remote.duckdb") as s:
        yield s


@pytest.fixture
def run_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if "run" in e]


def stored(server: Server) -> int:
    return int(json.loads(urllib.request.urlopen(f"{server.url}/api/v1/stats").read())["events"])


def dz_listed(url: str) -> list[dict[str, Any]]:
    client = boto3.client("datazone", endpoint_url=url, region_name="us-west-2", aws_access_key_id="a",
                          aws_secret_access_key="b")
    items: list[dict[str, Any]] = client.list_lineage_events(domainIdentifier=DOMAIN, maxResults=50)["items"]
    return items


def test_every_sink_is_a_sink(tmp_path: Path, store: Store) -> None:
    sinks: list[Sink] = [FileSink(tmp_path / "x.ndjson"), ConsoleSink(), CallbackSink(print), StoreSink(store, "t"),
                         HttpSink("http://127.0.0.1:9")]
    assert all(isinstance(s, Sink) for s in sinks)
    assert isinstance(HttpSink("http://127.0.0.1:9"), ExactSink) and not isinstance(ConsoleSink(), ExactSink)


# -- HTTP: our collector -----------------------------------------------------------------------------------------
def test_http_sink_delivers_to_our_collector(server: Server, run_events: list[dict[str, Any]]) -> None:
    with HttpSink(server.url) as sink:
        assert sink.target == f"http:{server.url}"
        for e in run_events[:3]:
            sink.emit(e)
        assert sink.send(orjson.dumps(run_events[3]), "ignored") is None  # exact bytes, no id from this backend
        with pytest.raises(Refused, match=r"^HTTP 400: .*"):
            sink.emit({"eventType": "START"})
    assert stored(server) == 4


def test_http_sink_sends_its_token(tmp_path: Path, run_events: list[dict[str, Any]]) -> None:
    with running_server(tmp_path / "locked.duckdb", token="s3cret") as server:
        with HttpSink(server.url) as anonymous, pytest.raises(Refused, match="HTTP 401"):
            anonymous.emit(run_events[0])
        with HttpSink(server.url, token="s3cret") as sink:
            sink.emit(run_events[0])


def test_http_sink_retries_throttling_5xx_and_dropped_answers(server: Server,
                                                              run_events: list[dict[str, Any]]) -> None:
    def plan(n: int) -> str | None:
        return {1: "500", 2: "429", 3: "drop-after"}.get(n)

    with fault_proxy(server.url, plan) as (proxy, log), HttpSink(proxy, policy=RetryPolicy(backoff=0.05)) as sink:
        sink.emit(run_events[0])
    assert len(log) == 4
    assert stored(server) == 1  # the dropped answer's event was stored once: the collector deduplicates


def test_http_sink_gives_up_after_the_policy_s_attempts(server: Server, run_events: list[dict[str, Any]]) -> None:
    with fault_proxy(server.url, lambda n: "500") as (proxy, log), HttpSink(proxy, policy=QUICK) as sink:
        with pytest.raises(DeliveryError, match="HTTP 500"):
            sink.emit(run_events[0])
        with pytest.raises(DeliveryError, match="HTTP 500"):
            sink.send(orjson.dumps(run_events[0]), "t")
    assert len(log) == 6
    with HttpSink("http://127.0.0.1:9", policy=QUICK) as nobody, pytest.raises(DeliveryError, match="does not answer"):
        nobody.emit(run_events[0])


def test_send_batches_is_ingest_to_server(tmp_path: Path, server: Server, events: list[dict[str, Any]]) -> None:
    """What `lineagelab ingest --server` prints, line by line, from the same input as test_server_http's."""
    path = write_ndjson(tmp_path / "in.ndjson", [*events[12:16], {"eventType": "START"}])
    lines: list[str] = []
    with HttpSink(server.url, timeout=120) as sink:
        report = send_batches(sink, read_events([str(path)]), lines.append, size=2)
        again = send_batches(sink, read_events([str(path)]), lambda line: None)
    assert (report.accepted, report.duplicates, report.rejected) == (4, 0, 1)
    assert len(lines) == 1 and lines[0].startswith(f"rejected {path}:line 5: $: not an OpenLineage event")
    assert (again.accepted, again.duplicates, again.rejected) == (0, 4, 1)
    with HttpSink("http://127.0.0.1:9", policy=QUICK) as nobody, \
            pytest.raises(DeliveryError, match=r"^server http://127.0.0.1:9 does not answer: "):
        send_batches(nobody, read_events([str(path)]), lines.append)


# -- DataZone: a real boto3 client on our local DataZone API ----------------------------------------------------
def test_datazone_sink_posts_with_boto3(server: Server, run_events: list[dict[str, Any]],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)  # a loopback endpoint needs no credentials
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with DataZoneSink(DOMAIN, region="us-west-2", endpoint_url=server.url) as sink:
        assert sink.target == f"datazone:{DOMAIN}@{server.url}"
        sink.emit(run_events[0])
        sink.emit({"eventType": "CREATE", "dataset": {"namespace": "n", "name": "d"}})  # not a RunEvent: not sent
        body = orjson.dumps(run_events[1])
        first = sink.send(body, "ll-token-1")
        assert sink.send(body, "ll-token-1") == first  # the Client-Token makes a resend the same event
        assert sink.processing_status(first) in ("PROCESSING", "SUCCESS")
        with pytest.raises(Refused, match=r"^ValidationException: event is not valid JSON"):
            sink.send(b"{not json", "ll-token-2")
        with pytest.raises(Refused, match=f"DataZone accepts at most {MAX_EVENT_BYTES:,}"):
            sink.send(b" " * (MAX_EVENT_BYTES + 1), "ll-token-3")
    assert len(dz_listed(server.url)) == 2


def test_datazone_sink_retries_by_the_policy(server: Server, run_events: list[dict[str, Any]]) -> None:
    with fault_proxy(server.url, lambda n: {1: "500", 2: "429", 3: "drop-after"}.get(n)) as (proxy, log), \
            DataZoneSink(DOMAIN, region="us-west-2", endpoint_url=proxy) as sink:
        sink.send(orjson.dumps(run_events[0]), "ll-retried")
    assert len(log) == 4 and len(dz_listed(server.url)) == 1
    with fault_proxy(server.url, lambda n: "500") as (proxy, log), \
            DataZoneSink(DOMAIN, region="us-west-2", endpoint_url=proxy, policy=QUICK) as sink, \
            pytest.raises(DeliveryError, match="InternalServerException"):
        sink.emit(run_events[1])
    assert len(log) == 3


# -- this machine: a file, the console, the store ----------------------------------------------------------------
def test_file_sink_appends_ndjson(tmp_path: Path, run_events: list[dict[str, Any]]) -> None:
    out = tmp_path / "new" / "folder" / "events.ndjson"
    with FileSink(out) as sink:
        sink.emit(run_events[0])
    with FileSink(out) as sink:
        sink.emit(run_events[1])
    assert [json.loads(line) for line in out.read_text().splitlines()] == run_events[:2]


def test_console_sink_prints_one_event_a_line(capsys: pytest.CaptureFixture[str],
                                              run_events: list[dict[str, Any]]) -> None:
    with ConsoleSink() as sink:
        sink.emit(run_events[0])
        sink.emit(run_events[1])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == run_events[:2]
    assert lines[0] == json.dumps(run_events[0], sort_keys=True)


def test_store_sink_ingests_on_flush(store: Store, run_events: list[dict[str, Any]]) -> None:
    with StoreSink(store, "sink-test") as sink:
        sink.emit(run_events[0])
        sink.emit({"eventType": "START"})
        assert store.stats()["events"] == 0  # held until the flush
        sink.flush()
        sink.emit(run_events[0])
        sink.emit(run_events[1])
    assert (sink.report.accepted, sink.report.duplicates, len(sink.report.rejected)) == (2, 1, 1)
    assert "sink-test" in str(sink.report.rejected[0])
    assert store.stats()["events"] == 2
