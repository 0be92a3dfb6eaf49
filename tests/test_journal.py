"""The server's journal: what it acknowledged but had not moved into DuckDB is stored when the store next opens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from lineagelab.ingest.prepare import Pending, accept
from lineagelab.ingest.reader import RawEvent
from lineagelab.store.journal import Journal, journal_files, read_journal
from lineagelab.store.sources import Events
from lineagelab.store.store import Recovery, Store
from tests.test_store import snapshot


def pending(docs: list[dict[str, Any]], pretty: bool = False) -> list[Pending]:
    out = []
    for d in docs:
        text = json.dumps(d, indent=2).encode() if pretty else orjson.dumps(d)
        item = accept(RawEvent("test", "", text, d))
        assert isinstance(item, Pending)
        out.append(item)
    return out


def test_journal_replayed_on_open(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "j.duckdb"
    with Store.open(path) as s:
        s.ingest(Events(RawEvent("t", "", orjson.dumps(e), e) for e in events[:3]))  # some already stored
    journal = Journal(path)
    journal.append(pending(events[:5]))  # three of them duplicates of stored events
    journal.append(pending(events[5:], pretty=True))  # multi-line texts survive the framing
    segment, generation = journal.rotate()
    assert segment is not None and generation == 2
    journal.append(pending(events[:1]))
    journal.close()
    # a crash in the middle of a write: a torn frame at the end of the newest file, never acknowledged
    newest = journal_files(path)[-1]
    newest.write_bytes(newest.read_bytes() + b"LLJ1 abc 999\n{\"eventType\":")
    assert [e.doc for e in read_journal(newest)] == [events[0]]

    with Store.open(path) as s:
        assert s.stats()["events"] == len(events)
        after_replay = snapshot(s)
        stored = {r[0] for r in s.con.execute("SELECT event_id FROM raw_events").fetchall()}
        assert {p.event_id for p in pending(events)} == stored
        s.rebuild()
        assert snapshot(s) == after_replay  # the model derived on replay is the model of these events
    assert journal_files(path) == []


def test_read_only_open_replays_a_journal_nobody_holds(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "r.duckdb"
    Store.open(path).close()
    journal = Journal(path)
    journal.append(pending(events))
    journal.close()
    with Store.open(path, read_only=True) as s:
        assert s.stats()["events"] == len(events)
        assert s.con.execute("SELECT count(*) FROM runs").fetchone() != (0,)
    assert journal_files(path) == []


def test_a_journal_whose_events_no_longer_validate_is_kept_aside(tmp_path: Path,
                                                                 events: list[dict[str, Any]]) -> None:
    path = tmp_path / "b.duckdb"
    Store.open(path).close()
    journal = Journal(path)
    good = pending(events[:2])
    bad = pending(events[2:3])[0]
    bad.text = b'{"eventType": "START"}'  # as if the rules had changed since it was accepted
    journal.append([*good, bad])
    journal.close()
    with Store.open(path) as s:
        assert s.stats()["events"] == 2
    kept = list(tmp_path.glob("b.duckdb.journal.*.rejected"))
    assert len(kept) == 1 and journal_files(path) == []


def test_ingest_derives_what_a_server_stored_but_had_not_derived(tmp_path: Path,
                                                                 events: list[dict[str, Any]]) -> None:
    with Store.open(tmp_path / "u.duckdb") as s:
        s.append(pending(events[:4]))  # the server's way: stored and acknowledged, derived later
        s.ingest(Events(RawEvent("t", "", orjson.dumps(e), e) for e in events[4:]))
        derived = s.con.execute("SELECT count(DISTINCT event_id) FROM f_events").fetchone()
        assert derived == (len(events),)
        before = snapshot(s)
        s.rebuild()
        assert snapshot(s) == before


def test_a_backlog_is_derived_in_chunks_to_the_model_a_rebuild_gives(tmp_path: Path,
                                                                      events: list[dict[str, Any]]) -> None:
    """The server's way under load: events stored, the model derived later, a few per transaction (without vacuum
    while the backlog lasts); the database's vacuum setting comes back after."""
    with Store.open(tmp_path / "b.duckdb") as s:
        s.con.execute("SET max_vacuum_tasks = 9")
        s.append(pending(events))
        assert s.catch_up(limit=3) == len(events) > 3
        assert s.derived_seq() == s.last_seq()
        assert s.con.execute("SELECT current_setting('max_vacuum_tasks')").fetchone() == (9,)
        assert s.catch_up(limit=3) == 0
        derived = snapshot(s)
        s.rebuild()
        assert snapshot(s) == derived


def test_open_says_what_it_recovered(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """``store.recovered``: journaled events stored, appended events derived, a new store created; nothing else."""
    path = tmp_path / "said.duckdb"
    with Store.open(path) as s:
        assert s.recovered == Recovery(created=True) and s.recovered.lines() == []
        s.append(pending(events[:3]))  # the server's way: stored, derived later (here: never, it stops)
    journal = Journal(path)
    journal.append(pending(events[3:]))
    journal.close()
    with Store.open(path, read_only=True) as s:  # a read-only open has a writable one recover first
        assert s.recovered == Recovery(model_caught_up=3, journal_events=len(events) - 3)
        assert s.recovered.lines() == [
            f"recovered {len(events) - 3} journaled events (acknowledged by a server that stopped before storing "
            "them)", "derived the model of 3 events stored but not yet derived"]
    with Store.open(path) as s:
        assert s.recovered == Recovery()
