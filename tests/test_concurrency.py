"""Crashes and concurrent access on real store files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from lineagelab.ingest.reader import read_events
from lineagelab.simulator.synthetic import Shape, events
from lineagelab.store.sources import Events
from lineagelab.store.store import Store
from tests.conftest import write_ndjson
from tests.test_store import snapshot


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "synthetic.ndjson"
    write_ndjson(path, list(events(Shape(jobs=4000, runs_per_job=2, columns=6))))  # 16,000 events
    return path


def _consistent(path: Path) -> int:
    """Open after a crash: every committed batch is whole (its raw events with their facts), and the model, caught
    up on open where the ingest had deferred it, equals one rebuilt from raw."""
    with duckdb.connect(str(path), read_only=True) as con:
        n, facts = con.execute("SELECT (SELECT count(*) FROM raw_events), "
                               "(SELECT count(DISTINCT event_id) FROM f_events)").fetchall()[0]
        assert n == facts
    with Store.open(path) as s:
        assert s.derived_seq() == n
        before = snapshot(s)
        s.rebuild()
        assert snapshot(s) == before
        return int(n)


def test_kill_9_mid_ingest_leaves_a_consistent_store(tmp_path: Path, big_file: Path) -> None:
    store = tmp_path / "crash.duckdb"
    env = {**os.environ, "LINEAGELAB_STORE": str(store)}
    counts = []
    for _ in range(2):
        proc = subprocess.Popen([sys.executable, "-m", "lineagelab", "ingest", str(big_file)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("committed ")  # a timer would race start-up on a busy machine
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        counts.append(_consistent(store))
    assert any(0 < c < 16_000 for c in counts), counts  # at least one kill landed mid-ingest
    # Resuming: the rest goes in, what was there counts as duplicates.
    done = subprocess.run([sys.executable, "-m", "lineagelab", "ingest", "-q", str(big_file)], env=env,
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == f"accepted {16_000 - counts[-1]}, duplicates {counts[-1]}, rejected 0"
    assert _consistent(store) == 16_000


def test_ctrl_c_stops_an_ingest_promptly_and_says_what_is_stored(tmp_path: Path) -> None:
    # large enough that the workers are still preparing when the first commit (>= 10,000 events) is reported: a
    # Ctrl-C during the last commit lets it finish, which would leave nothing "mid-ingest" to check
    bigger = tmp_path / "bigger.ndjson"
    write_ndjson(bigger, list(events(Shape(jobs=12_000, runs_per_job=2, columns=6))))  # 48,000 events
    store = tmp_path / "interrupted.duckdb"
    env = {**os.environ, "LINEAGELAB_STORE": str(store)}
    proc = subprocess.Popen([sys.executable, "-m", "lineagelab", "ingest", str(bigger)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("committed ")
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130
    last = rest.strip().splitlines()[-1]
    assert last.startswith("interrupted: the ") and "committed stay stored" in last
    committed = int(last.split()[2].replace(",", ""))
    assert 0 < committed < 48_000
    assert _consistent(store) == committed


def test_readers_see_whole_batches_while_a_writer_ingests(tmp_path: Path, big_file: Path) -> None:
    from lineagelab.graph.modes import Mode
    from lineagelab.graph.resolve import resolve
    from lineagelab.graph.traverse import table_lineage

    store = Store.open(tmp_path / "live.duckdb")
    seen: list[int] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def writer() -> None:
        try:
            store.ingest(Events(read_events([big_file]), batch_size=1000))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    def reader() -> None:
        cur = store.cursor()
        try:
            while not done.is_set():
                raw, fact, runs, model_runs = cur.execute(
                    "SELECT (SELECT count(*) FROM raw_events), (SELECT count(*) FROM f_events), "
                    "(SELECT count(DISTINCT run_key) FROM f_events), (SELECT count(*) FROM runs)").fetchall()[0]
                assert raw == fact and runs == model_runs and raw % 1000 == 0
                seen.append(raw)
                if raw:
                    node = resolve(cur, "job_000001").node
                    assert table_lineage(cur, node, Mode(), "both", 4).graph.number_of_nodes() > 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    store.close()
    assert not errors, errors
    assert len(set(seen)) >= 3  # readers watched the store grow batch by batch


def test_another_process_waits_then_names_the_holder(tmp_path: Path, events: list[dict]) -> None:
    store = tmp_path / "held.duckdb"
    with Store.open(store) as s:
        s.ingest(Events(read_events([write_ndjson(tmp_path / "e.ndjson", events)])))
    holder = subprocess.Popen([sys.executable, "-c", f"from lineagelab.store.store import Store; import time; "
                               f"s = Store.open({str(store)!r}); print('open', flush=True); time.sleep(4)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
    env = {**os.environ, "LINEAGELAB_STORE": str(store)}
    blocked = subprocess.run([sys.executable, "-m", "lineagelab", "--wait", "0.5", "store", "stats"], env=env,
                             capture_output=True, text=True)
    assert blocked.returncode == 1
    assert f"is in use by another process (pid {holder.pid})" in blocked.stderr
    waited = subprocess.run([sys.executable, "-m", "lineagelab", "--wait", "30", "store", "stats", "--format", "json"],
                            env=env, capture_output=True, text=True)
    holder.wait()
    assert waited.returncode == 0 and '"events": 22' in waited.stdout
