"""Parallel ingest (worker processes prepare blocks, this process writes) stores what the serial ingest stores."""

from __future__ import annotations

import copy
import os
import signal
import threading
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from lineagelab.ingest import early, parallel
from lineagelab.ingest.reader import read_events
from lineagelab.simulator.synthetic import Shape
from lineagelab.simulator.synthetic import events as synthetic_events
from lineagelab.store.sources import Events, Files
from lineagelab.store.store import Store, StrictStop
from lineagelab.store.writes import Writes
from tests.test_store import snapshot


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Blocks of ~15 events, workers started for anything over 3 blocks, and commits of a few blocks: a test file
    exercises the whole path. Gives the process ids of the workers started."""
    from lineagelab.store import writer

    monkeypatch.setattr(parallel, "BLOCK_BYTES", 64 * 1024)
    monkeypatch.setattr(writer, "_MERGE_AT_LEAST", 40)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 3 * 64 * 1024)
    started: list[int] = []
    init = parallel._Worker.__init__

    def spy(self: parallel._Worker, proc: Any = None) -> None:
        init(self, proc)
        started.append(self.proc.pid)

    monkeypatch.setattr(parallel._Worker, "__init__", spy)
    return started


def synthetic_file(path: Path, jobs: int = 120) -> list[dict[str, Any]]:
    docs = list(synthetic_events(Shape(jobs=jobs, runs_per_job=2, columns=6, seed=4)))
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return docs


def test_parallel_ingest_gives_the_serial_model(tmp_path: Path, small_blocks: list[int]) -> None:
    path = tmp_path / "events.ndjson"
    docs = synthetic_file(path)
    assert path.stat().st_size > 10 * parallel.BLOCK_BYTES  # many blocks, several per worker
    committed: list[int] = []
    with Store.open(tmp_path / "parallel.duckdb") as par:
        report = par.ingest(Files([path], workers=2), progress=committed.append)
        par_model, par_stats = snapshot(par), par.stats()
        ids = par.con.execute("SELECT event_id FROM raw_events ORDER BY seq").fetchall()
    with Store.open(tmp_path / "serial.duckdb") as ser:
        ser.ingest(Events(read_events([path])))
        assert snapshot(ser) == par_model
        assert ser.con.execute("SELECT event_id FROM raw_events ORDER BY seq").fetchall() == ids  # input order
        ser_stats = ser.stats()
    assert (report.accepted, report.duplicates, report.rejected) == (len(docs), 0, [])
    assert len(small_blocks) == 2  # prepared in two worker processes
    for pid in small_blocks:  # each gone and reaped once the ingest returns (no zombie left)
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert sum(committed) == len(docs)
    for key in ("events", "runs", "jobs", "datasets", "dataset_versions", "column_edges"):
        assert par_stats[key] == ser_stats[key], key
    assert par_stats["column_edges"] > 1000


def test_workers_started_before_the_cli_are_adopted(tmp_path: Path, small_blocks: list[int],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.ndjson"
    synthetic_file(path, jobs=40)
    monkeypatch.setattr(early, "PARALLEL_MIN_BYTES", 3 * 64 * 1024)
    for argv in (["ingest", "-"], ["ingest", "--workers", "1", str(path)], ["ingest", "--server", "u", str(path)],
                 ["ingest", str(tmp_path)], ["lineage", "x"]):
        early.start(argv)
        assert not early._early, argv
    early.start(["--store", "s.duckdb", "ingest", "-q", "--workers=2", str(path)])
    pids = [p.pid for p in early._early]
    assert len(pids) == 2
    with Store.open(tmp_path / "early.duckdb") as par:
        par.ingest(Files([path], workers=2))
        model = snapshot(par)
    with Store.open(tmp_path / "serial.duckdb") as ser:
        ser.ingest(Events(read_events([path])))
        assert snapshot(ser) == model
    assert small_blocks == pids and not early._early


def test_a_bulk_ingest_leaves_the_connection_settings_as_it_found_them(tmp_path: Path,
                                                                      small_blocks: list[int]) -> None:
    """A bulk ingest runs DuckDB on one thread and without vacuum: a library user's settings come back afterwards,
    after a failed ingest too."""
    path = tmp_path / "events.ndjson"
    docs = synthetic_file(path, jobs=60)
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(path.read_bytes() + b'{"eventType": "START"}\n')
    with Store.open(tmp_path / "lineage.duckdb") as s:
        s.con.execute("SET threads = 2")
        s.con.execute("SET max_vacuum_tasks = 7")
        settings = "SELECT current_setting('threads'), current_setting('max_vacuum_tasks')"
        assert s.ingest(Files([path], workers=2)).accepted == len(docs)
        assert s.con.execute(settings).fetchone() == (2, 7)
        with pytest.raises(StrictStop):
            s.ingest(Files([bad], workers=2), strict=True)
        assert s.con.execute(settings).fetchone() == (2, 7)


@pytest.mark.parametrize("workers", [2, 1])
def test_rejections_name_their_lines_across_blocks(tmp_path: Path, small_blocks: list[int], workers: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks after a file's first are read by whoever prepares them and number their lines from 1 (``Block.span``):
    in worker processes or in this one, a rejection names its line in the file."""
    monkeypatch.setenv("LINEAGELAB_STRICT", "1")  # the full validation (workers inherit it): a non-uuid runId refused
    path = tmp_path / "events.ndjson"
    docs = synthetic_file(path)
    lines = path.read_bytes().splitlines()
    bad = copy.deepcopy(docs[300])
    bad["run"]["runId"] = "not-a-uuid"
    lines[300] = orjson.dumps(bad)
    lines[450] = b"{broken"
    lines.insert(600, lines[10])  # a duplicate of an event many blocks earlier
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Store.open(tmp_path / "s.duckdb") as s:
        report = s.ingest(Files([path], workers=workers))
        stored = s.stats()["events"]
    assert len(small_blocks) == (2 if workers == 2 else 0)
    assert [(r.where, r.path) for r in report.rejected] == [(f"{path}:line 301", "$.run.runId"),
                                                            (f"{path}:line 451", "")]
    assert "malformed JSON" in report.rejected[1].message
    assert (report.accepted, report.duplicates) == (len(docs) - 2, 1)
    assert stored == len(docs) - 2


def test_strict_parallel_ingest_stores_nothing(tmp_path: Path, small_blocks: list[int]) -> None:
    path = tmp_path / "events.ndjson"
    synthetic_file(path)
    lines = path.read_bytes().splitlines()
    lines[400] = b'{"eventType": "START"}'
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Store.open(tmp_path / "s.duckdb") as s:
        with pytest.raises(StrictStop, match="line 401"):
            s.ingest(Files([path], workers=2), strict=True)
        assert s.stats()["events"] == 0
        # the store is usable afterwards, and a good ingest works
        path.write_bytes(b"\n".join(lines[:400] + lines[401:]) + b"\n")
        assert s.ingest(Files([path], workers=2), strict=True).accepted == len(lines) - 1


def test_small_inputs_and_other_formats_take_the_same_path(tmp_path: Path, small_blocks: list[int]) -> None:
    docs = synthetic_file(tmp_path / "big.ndjson")
    (tmp_path / "array.json").write_bytes(orjson.dumps(docs[:5]))
    (tmp_path / "one.json").write_bytes(orjson.dumps(docs[5], option=orjson.OPT_INDENT_2))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "more.ndjson").write_bytes(orjson.dumps(docs[6]) + b"\n" + orjson.dumps(docs[7]) + b"\n")
    with Store.open(tmp_path / "s.duckdb") as s:
        report = s.ingest(Files([tmp_path], workers=2))
    # the big file holds all of them: every other file's events are duplicates
    assert (report.accepted, report.duplicates, report.rejected) == (len(docs), 8, [])


def test_a_worker_dying_stops_the_ingest_with_a_clear_error(tmp_path: Path, small_blocks: list[int],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.ndjson"
    synthetic_file(path)
    committed = threading.Event()
    answers = 0
    result = parallel._Worker.result

    def dies_at_the_fourth_answer(self: parallel._Worker) -> Any:
        nonlocal answers
        answers += 1
        if answers == 4:  # once a batch is committed, a worker is killed with answers still to give
            assert committed.wait(30)
            os.kill(self.proc.pid, signal.SIGKILL)
        return result(self)

    monkeypatch.setattr(parallel._Worker, "result", dies_at_the_fourth_answer)
    with Store.open(tmp_path / "s.duckdb") as s:
        with pytest.raises(parallel.WorkerError, match=r"an ingest worker process exited \(code -9\)"):
            s.ingest(Files([path], workers=2), progress=lambda _: committed.set())
        stored = s.stats()["events"]
        assert 0 < stored < 480 and s.derived_seq() == stored  # whole batches, the model caught up with them
        before = snapshot(s)
        s.rebuild()
        assert snapshot(s) == before
        # running it again adds the rest
        monkeypatch.setattr(parallel._Worker, "result", result)
        report = s.ingest(Files([path], workers=2))
        assert (report.accepted, report.duplicates) == (480 - stored, stored)


def test_rebuild_with_worker_processes_gives_the_same_model(tmp_path: Path, small_blocks: list[int],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from lineagelab.store import rebuild

    path = tmp_path / "events.ndjson"
    docs = synthetic_file(path)
    with Store.open(tmp_path / "s.duckdb") as s:
        s.ingest(Events(read_events([path])))
        before = snapshot(s)
        started = len(small_blocks)
        monkeypatch.setattr(rebuild, "BATCH_SIZE", 40)  # rows per worker task
        monkeypatch.setattr(rebuild, "_PARALLEL_REBUILD", 100)
        monkeypatch.setattr(rebuild, "default_workers", lambda: 2)
        done: list[int] = []
        s.rebuild(progress=done.append)
        assert len(small_blocks) == started + 2  # the rebuild ran in two worker processes
        assert sum(done) == len(docs) and len(done) == -(-len(docs) // 40)
        assert snapshot(s) == before


def test_ctrl_c_while_the_last_batches_commit_waits_for_the_writer(tmp_path: Path, small_blocks: list[int],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C can land while the ingest waits for its last commit: the interrupt comes through once the writer is
    done with the connection (leaving earlier aborted the process), and what it committed is whole."""
    import time

    from lineagelab.store import writer

    path = tmp_path / "events.ndjson"
    synthetic_file(path)
    flush = Writes.flush

    def slow_flush(self: Writes, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.2)  # the writer is busy when the interrupt arrives
        flush(self, *args, **kwargs)

    interrupted: list[bool] = []

    class InterruptedOnce(threading.Event):
        """Ctrl-C arriving while the ingesting thread waits for the writer to finish."""

        def wait(self, timeout: float | None = None) -> bool:
            if not interrupted:
                interrupted.append(True)
                raise KeyboardInterrupt
            return super().wait(timeout)

    enter = writer.Writer.__enter__

    def enter_interruptible(self: Any) -> Any:
        self.finished = InterruptedOnce()
        return enter(self)

    monkeypatch.setattr(Writes, "flush", slow_flush)
    monkeypatch.setattr(writer.Writer, "__enter__", enter_interruptible)
    with Store.open(tmp_path / "s.duckdb") as s:
        with pytest.raises(KeyboardInterrupt):
            s.ingest(Files([path], workers=2))
        assert interrupted
        assert not any(t.name == "lineagelab-writer" and t.is_alive() for t in threading.enumerate())
        stored = s.stats()["events"]
        assert 0 < stored <= 480 and s.derived_seq() == stored
        before = snapshot(s)
        s.rebuild()
        assert snapshot(s) == before


def test_facts_failing_after_their_raw_events_committed_are_derived_on_next_open(
        tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk ingest stores raw events and facts in two transactions side by side (``_flush_split``); the facts commit
    only after their raw events. When the facts of a batch fail, the ingest stops with that error, and the raw events
    already committed get their facts and model when the store is next opened: the same model as a serial ingest."""
    path = tmp_path / "events.ndjson"
    docs = synthetic_file(path)
    fail_on_second_call(monkeypatch, "insert_facts", "disk full (simulated)")
    with Store.open(tmp_path / "s.duckdb") as s, pytest.raises(RuntimeError, match="disk full"):
        s.ingest(Files([path], workers=2))
    monkeypatch.undo()
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:  # as the failed ingest left it
        raw = con.execute("SELECT count(*), max(seq) FROM raw_events").fetchone()
        facts = con.execute("SELECT count(*) FROM f_events").fetchone()
        facts_seq = con.execute("SELECT value FROM meta WHERE key = 'facts_seq'").fetchone()
    assert raw is not None and facts is not None and facts_seq is not None
    assert 0 < facts[0] < raw[0] <= len(docs) and int(facts_seq[0]) < raw[1]  # raw events ahead of their facts
    with Store.open(tmp_path / "s.duckdb") as s:  # opened for writing: derives what the raw events are ahead by
        assert s.con.execute("SELECT count(*) FROM f_events").fetchone() == (raw[0],)
        model = snapshot(s)
        ids = [r[0] for r in s.con.execute("SELECT event_id FROM raw_events ORDER BY seq").fetchall()]
    with Store.open(tmp_path / "serial.duckdb") as ser:
        ser.ingest(Events(read_events([path])))
        kept = set(ids)
        ser_ids = [r[0] for r in ser.con.execute("SELECT event_id FROM raw_events ORDER BY seq").fetchall()]
        assert ids == ser_ids[:len(ids)]
    with Store.open(tmp_path / "prefix.duckdb") as pre:  # the serial model of exactly the events stored
        pre.ingest(Events(e for e in read_events([path]) if e.doc is not None and _event_id(e) in kept))
        assert snapshot(pre) == model


def test_a_first_model_failing_half_way_is_derived_whole_on_next_open(
        tmp_path: Path, small_blocks: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """A store's first bulk ingest derives the model at its end in two halves on two connections (``_on_side``):
    datasets commit on their own while the rest runs. When the rest fails, datasets are stored and the model is
    not recorded as derived; the store, next opened, derives it whole: the model of a serial ingest."""
    from lineagelab.store import model as model_module

    path = tmp_path / "events.ndjson"
    synthetic_file(path)

    def failing(con: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("jobs half failed (simulated)")

    monkeypatch.setattr(model_module, "refresh_all_jobs", failing)
    with Store.open(tmp_path / "s.duckdb") as s, pytest.raises(RuntimeError, match="jobs half failed"):
        s.ingest(Files([path], workers=2))
    monkeypatch.undo()
    with duckdb.connect(str(tmp_path / "s.duckdb"), read_only=True) as con:  # as the failed ingest left it
        assert con.execute("SELECT count(*) FROM datasets").fetchone() != (0,)  # the datasets half committed
        assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
        assert con.execute("SELECT value FROM meta WHERE key = 'derived_seq'").fetchone() in (None, ("0",))
    with Store.open(tmp_path / "s.duckdb") as s:
        model = snapshot(s)
    with Store.open(tmp_path / "serial.duckdb") as ser:
        ser.ingest(Events(read_events([path])))
        assert snapshot(ser) == model


def fail_on_second_call(monkeypatch: pytest.MonkeyPatch, method: str, message: str) -> None:
    """``Writes.<method>`` raises on its second call (the second batch written), as a full disk would."""
    original = getattr(Writes, method)
    calls: list[int] = []

    def failing(self: Writes, *args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError(message)
        return original(self, *args)

    monkeypatch.setattr(Writes, method, failing)


def _event_id(raw: Any) -> str:
    from lineagelab.ingest.prepare import event_id_of

    return event_id_of(raw.doc)


def test_raw_events_failing_take_their_facts_back(tmp_path: Path, small_blocks: list[int],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """When a batch's raw events fail to store, its facts (inserted side by side) are rolled back: no facts of
    events that are not stored, and the model is the one a rebuild gives."""
    path = tmp_path / "events.ndjson"
    synthetic_file(path)
    fail_on_second_call(monkeypatch, "insert_raw", "raw failed (simulated)")
    with Store.open(tmp_path / "s.duckdb") as s, pytest.raises(RuntimeError, match="raw failed"):
        s.ingest(Files([path], workers=2))
    monkeypatch.undo()
    with Store.open(tmp_path / "s.duckdb") as s:
        orphans = s.con.execute("SELECT count(*) FROM f_events WHERE event_id NOT IN "
                                "(SELECT event_id FROM raw_events)").fetchone()
        assert orphans == (0,)
        assert s.con.execute("SELECT count(*) FROM f_events").fetchone() == s.con.execute(
            "SELECT count(*) FROM raw_events").fetchone() != (0,)
        model = snapshot(s)
        s.rebuild()
        assert snapshot(s) == model
