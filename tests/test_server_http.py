"""The server under bad input, wrong credentials, slow clients and a kill -9."""

from __future__ import annotations

import gzip
import json
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from lineagelab.store.store import Store
from tests.server_fixture import Server, running_server
from tests.test_store import snapshot


def request(server: Server, path: str, data: bytes | None = None, method: str | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    headers = dict(headers or {})
    if data is not None:
        headers.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    with running_server(tmp_path_factory.mktemp("http") / "store.duckdb") as s:
        yield s


def _count(server: Server) -> int:
    return int(request(server, "/api/v1/stats")[2]["events"])


def test_single_event_and_gzip_batch(server: Server, events: list[dict[str, Any]]) -> None:
    status, _, body = request(server, "/api/v1/lineage", orjson.dumps(events[0]),
                              headers={"Content-Type": "application/json"})
    assert status == 201 and body["duplicate"] is False
    ndjson = b"\n".join(orjson.dumps(e) for e in events[:8])
    status, _, body = request(server, "/api/v1/lineage/batch", gzip.compress(ndjson),
                              headers={"Content-Encoding": "gzip", "Content-Type": "application/x-ndjson"})
    assert status == 200 and (body["accepted"], body["duplicate"], body["rejected"]) == (7, 1, 0)


def test_batch_reports_each_event(server: Server, events: list[dict[str, Any]]) -> None:
    bad = dict(events[9], eventTime="soon")
    status, _, body = request(server, "/api/v1/lineage/batch", orjson.dumps([events[9], bad, events[10]]))
    assert status == 200
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["path"] == "$.eventTime"


@pytest.mark.parametrize("path,data,method,headers,code,needle", [
    ("/api/v1/lineage", b"{broken", "POST", {}, 400, "malformed JSON"),
    ("/api/v1/lineage", b'{"eventType": "START"}', "POST", {}, 400, "not an OpenLineage event"),
    ("/api/v1/lineage", b"[]", "POST", {}, 400, "expected one event"),
    ("/api/v1/lineage", b"{}", "POST", {"Content-Type": "image/png"}, 415, "is not JSON"),
    ("/api/v1/lineage", b"\x1f\x8bnot gzip", "POST", {"Content-Encoding": "gzip"}, 400, "not valid gzip"),
    ("/api/v1/lineage", b"{}", "POST", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
    ("/api/v1/nothing", None, "GET", {}, 404, "no such endpoint"),
    ("/api/v1/lineage", None, "GET", {}, 405, "not allowed"),
    ("/api/v1/viewer/lineage?node=nothing_here", None, "GET", {}, 404, "no dataset or job"),
    ("/api/v1/viewer/lineage", None, "GET", {}, 400, "'node' is required"),
    ("/api/v1/viewer/lineage?node=x&depth=-3", None, "GET", {}, 400, "depth must be"),
    ("/api/v1/viewer/diff?from=yesterday&to=today", None, "GET", {}, 400, "not an ISO-8601 time"),
])
def test_bad_requests_get_a_clear_4xx(server: Server, path: str, data: bytes | None, method: str,
                                      headers: dict[str, str], code: int, needle: str) -> None:
    before = _count(server)
    status, _, body = request(server, path, data, method, headers)
    assert status == code, body
    assert needle in json.dumps(body)
    assert _count(server) == before


def test_oversize_bodies_refused(server: Server) -> None:
    import http.client

    host, port = server.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    conn.putrequest("POST", "/api/v1/lineage/batch")
    conn.putheader("Content-Length", str(65 * 1024 * 1024))  # refused from the header, before the body is read
    conn.putheader("Content-Type", "application/json")
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413 and "exceeds" in json.loads(resp.read())["message"]
    conn.close()
    bomb = gzip.compress(b" " * (70 * 1024 * 1024))  # small on the wire, huge inflated
    status, _, _ = request(server, "/api/v1/lineage/batch", bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413


def test_slow_client_does_not_block_others(server: Server, events: list[dict[str, Any]]) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"POST /api/v1/lineage HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"ev")  # and stalls
    t = time.monotonic()
    status, _, _ = request(server, "/api/v1/lineage", orjson.dumps(events[11]))
    assert status == 201 and time.monotonic() - t < 5
    slow.close()


def test_token_required(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with running_server(tmp_path / "t.duckdb", token="s3cret") as srv:
        status, _, body = request(srv, "/api/v1/lineage", orjson.dumps(events[0]))
        assert status == 401 and body["error"] == "UnauthorizedException"
        status, headers, _ = request(srv, "/v2/domains/dzd_abc/lineage/events", None, "GET",
                                     {"Authorization": "Bearer wrong"})
        assert status == 401 and headers["x-amzn-errortype"] == "UnauthorizedException"
        status, _, _ = request(srv, "/api/v1/lineage", orjson.dumps(events[0]),
                               headers={"Authorization": "Bearer s3cret"})
        assert status == 201


def test_kill_9_keeps_every_acknowledged_event(tmp_path: Path) -> None:
    from lineagelab.simulator.synthetic import Shape, events

    docs = list(events(Shape(jobs=3000, runs_per_job=1, columns=4)))
    acked: list[str] = []
    store = tmp_path / "k.duckdb"
    with running_server(store) as srv:
        stop = threading.Event()

        def client(part: list[dict[str, Any]]) -> None:
            for doc in part:
                if stop.is_set():
                    return
                try:
                    status, _, body = request(srv, "/api/v1/lineage", orjson.dumps(doc))
                except OSError:
                    return
                if status == 201:
                    acked.append(body["id"])

        threads = [threading.Thread(target=client, args=(docs[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while len(acked) < 500 and time.monotonic() < deadline:  # mid-load, whatever the machine's speed
            time.sleep(0.01)
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert 50 < len(acked) < len(docs)
    with Store.open(store) as s:  # opening for writing derives what the server had not derived yet
        stored = {r[0] for r in s.con.execute("SELECT event_id FROM raw_events").fetchall()}
        assert s.con.execute("SELECT count(DISTINCT event_id) FROM f_events").fetchall() == [(len(stored),)]
        before = snapshot(s)
        s.rebuild()
        assert snapshot(s) == before
    assert set(acked) <= stored


def test_cli_ingest_through_the_running_server(server: Server, events: list[dict[str, Any]],
                                               tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import write_ndjson

    path = write_ndjson(tmp_path / "in.ndjson", [*events[12:16], {"eventType": "START"}])
    proc = subprocess.run([sys.executable, "-m", "lineagelab", "--store", str(server.store), "--wait", "0.2",
                           "ingest", "--server", server.url, str(path)], capture_output=True, text=True,
                          env={**os.environ}, timeout=120)
    assert proc.returncode == 1  # one rejected
    assert proc.stdout.strip().startswith("accepted ") and proc.stdout.strip().endswith("rejected 1")
    assert f"rejected {path}:line 5: $: not an OpenLineage event" in proc.stderr
    found = request(server, "/api/v1/viewer/search?q=" + events[12]["job"]["name"].split(".")[0])[2]
    assert found  # queryable at once through the server


def test_a_stopped_server_leaves_everything_stored_and_derived(tmp_path: Path) -> None:
    """SIGTERM right after a burst: the journal is moved and the model derived before exit; no journal is left."""
    from lineagelab.simulator.synthetic import Shape, events
    from lineagelab.store.journal import journal_files

    docs = list(events(Shape(jobs=100, runs_per_job=1, columns=3)))
    store = tmp_path / "t.duckdb"
    with running_server(store) as srv:
        body = b"\n".join(orjson.dumps(d) for d in docs)
        status, _, result = request(srv, "/api/v1/lineage/batch", body,
                                    headers={"Content-Type": "application/x-ndjson"})
        assert status == 200 and result["accepted"] == len(docs)
        srv.stop()  # uvicorn shuts down gracefully, then re-raises the signal (exit status -15)
    assert journal_files(store) == []
    with Store.open(store, read_only=True) as s:
        assert s.stats()["events"] == len(docs)
        assert s.con.execute("SELECT count(DISTINCT event_id) FROM f_events").fetchone() == (len(docs),)
