"""Server and replay benchmarks (issues 3 and 7), on loopback, load from other processes.

    .venv/bin/python bench/server_bench.py [--seconds 10] [--clients 8]      (NO_REPLAY=1: skip the replay part)

Prints single-event requests/s, batched events/s and latency percentiles of ``POST /api/v1/lineage`` (targets:
>= 1,000 req/s and >= 5,000 events/s on 2 cores), and the replay throughput to the local DataZone API with the
ledger on (target >= 100 events/s). Baseline in the same run: the same client loop against a bare uvicorn app that
answers 201 without storing, i.e. what HTTP alone costs here.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server_fixture import free_port, running_server

from lineagelab.simulator.synthetic import Shape, events


def _client(url: str, bodies: list[bytes], seconds: float, path: str, out: mp.Queue[list[float]]) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    lat: list[float] = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        body = bodies[i % len(bodies)]
        if i >= len(bodies):  # another round over the corpus: other run ids, so no event is a duplicate
            body = body.replace(b'"runId":"00000000-', f'"runId":"{i // len(bodies):08x}-'.encode())
        t = time.perf_counter()
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status >= 300:
            raise SystemExit(f"HTTP {r.status}")
        lat.append(time.perf_counter() - t)
        i += 1
    out.put(lat)


def load(url: str, bodies: list[bytes], seconds: float, clients: int, path: str) -> tuple[float, list[float]]:
    q: mp.Queue[list[float]] = mp.Queue()
    per = [bodies[i::clients] for i in range(clients)]
    procs = [mp.Process(target=_client, args=(url, per[i], seconds, path, q)) for i in range(clients)]
    t = time.perf_counter()
    for p in procs:
        p.start()
    lat = [x for _ in procs for x in q.get()]
    for p in procs:
        p.join()
    return len(lat) / (time.perf_counter() - t), lat


def caught_up(url: str) -> tuple[float, int]:
    """Seconds until a query that reads its writes answers, and the events then in the store."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    t = time.perf_counter()
    conn.request("GET", "/api/v1/stats")
    body = orjson.loads(conn.getresponse().read())
    return time.perf_counter() - t, int(body["events"])


BARE = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
import uvicorn, sys
async def ok(request):
    await request.body()
    return JSONResponse({"ok": True}, status_code=201)
uvicorn.run(Starlette(routes=[Route("/api/v1/lineage", ok, methods=["POST"])]), host="127.0.0.1",
            port=int(sys.argv[1]), log_level="warning")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    docs = list(events(Shape(jobs=20_000, runs_per_job=1, columns=6)))
    singles = [orjson.dumps(d) for d in docs]
    size = statistics.mean(map(len, singles))
    port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(port)])
    time.sleep(2)
    base_rps, _ = load(f"http://127.0.0.1:{port}", singles, args.seconds, args.clients, "/api/v1/lineage")
    bare.terminate()
    with tempfile.TemporaryDirectory() as tmp, running_server(Path(tmp) / "s.duckdb") as srv:
        rps, lat = load(srv.url, singles, args.seconds, args.clients, "/api/v1/lineage")
        catch_single, stored_single = caught_up(srv.url)
        q = statistics.quantiles(lat, n=100)
        # other run ids than the single-event load's (whose events would come back as duplicates)
        batches = [b"\n".join(singles[i : i + 200]).replace(b'"runId":"00000000-0000-', b'"runId":"00000000-b000-')
                   for i in range(0, len(singles) // 2, 200)]
        bps, blat = load(srv.url, batches, args.seconds, 2, "/api/v1/lineage/batch")
        catch_batch, stored_batch = caught_up(srv.url)
    print(f"events of {size / 1024:.1f} KB with column lineage, {args.clients} client processes, "
          f"{os.cpu_count()} cores")
    print(f"  bare HTTP baseline (no store)      {base_rps:>9,.0f} req/s")
    print(f"  single events, POST /api/v1/lineage {rps:>9,.0f} req/s = {rps / base_rps:.0%} of baseline "
          f"(target >= 1,000); p50 {q[49] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms")
    print(f"  batches of 200, /api/v1/lineage/batch {bps * 200:>7,.0f} events/s (target >= 5,000); "
          f"p99 {statistics.quantiles(blat, n=100)[98] * 1000:.0f} ms per batch")
    acked = len(lat) + len(blat) * 200
    print(f"  model caught up (a synced GET answered) {catch_single:.2f} s after the single-event load "
          f"({stored_single:,} events stored), {catch_batch:.2f} s after the batch load ({stored_batch:,}); "
          f"every acknowledged event stored: {stored_single == len(lat) and stored_batch == acked} "
          f"({len(lat):,} + {len(blat) * 200:,} acknowledged)")
    if not os.environ.get("NO_REPLAY"):
        replay_bench()


def replay_bench() -> None:
    docs = list(events(Shape(jobs=500, runs_per_job=1, columns=6)))
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        (tmpdir / "e.ndjson").write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_DEFAULT_REGION": "us-west-2",
               "LINEAGELAB_STORE": str(tmpdir / "local.duckdb")}
        subprocess.run([sys.executable, "-m", "lineagelab", "ingest", "-q", "e.ndjson"], cwd=tmpdir, env=env,
                       check=True, capture_output=True)
        with running_server(tmpdir / "remote.duckdb") as srv:
            t = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "lineagelab", "replay", "--domain", "dzd_bench1",
                                  "--endpoint-url", srv.url], cwd=tmpdir, env=env, check=True, capture_output=True,
                                 text=True).stdout
            elapsed = time.perf_counter() - t
    own = out.rsplit("(", 1)[-1].split(" events/s")[0]
    print(f"replay of {len(docs):,} RunEvents to the local DataZone API with the ledger: {own} events/s "
          f"(target >= 100); {len(docs) / elapsed:,.0f} events/s counting the CLI's start-up")


if __name__ == "__main__":
    main()
