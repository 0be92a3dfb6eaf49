"""The replay ledger: for each target and event, the token it was sent with and what came of it.

States:

* ``sending`` — committed before the request leaves; it may have reached the target, its answer is not recorded
  (``replay status`` counts these as in flight);
* ``sent`` — acknowledged, with the target's id;
* ``failed`` — refused: a 4xx the target would give again, or too large or invalid to send; the message is kept.

A replay resumes from this: ``sent`` is never sent again; ``sending`` is sent again under the same Client-Token, which
an idempotent target (DataZone) answers with the id it already gave. A target without a token (the Glue lineage API,
an HTTP backend) gets one event a window, so at most one is in flight: the ledger alone carries its guarantee.
Requests go out in windows: a window's events
are marked ``sending`` in the commit that records the previous window's answers, so the ledger costs one commit a
window. Events of a window whose request never left (the replay stopped first) get their earlier state back.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final, Literal

import duckdb

from lineagelab.store import ledger_rows
from lineagelab.store.ledger_rows import LedgerRow as Entry
from lineagelab.store.store import Store

__all__ = ["FAILED", "SENDING", "SENT", "Book", "Entry", "Status", "entries", "failures", "record_many", "summary"]

Status = Literal["sending", "sent", "failed"]
SENDING: Final[Status] = "sending"
SENT: Final[Status] = "sent"
FAILED: Final[Status] = "failed"


def entries(con: duckdb.DuckDBPyConnection, target: str) -> dict[str, Entry]:
    return {r.event_id: r for r in ledger_rows.rows(con, target)}


def record_many(con: duckdb.DuckDBPyConnection, items: list[Entry]) -> None:
    ledger_rows.upsert(con, items)


def summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per target: events, sent, failed, in_flight, processed, last_update."""
    return [asdict(s) for s in ledger_rows.summary(con)]


def failures(con: duckdb.DuckDBPyConnection, target: str, limit: int = 20) -> list[tuple[str, str]]:
    return ledger_rows.failures(con, target, limit)


class Book:
    """One replay's ledger for one target: marks before requests, answers after, withdrawals of what never left."""

    def __init__(self, store: Store, target: str):
        self.store, self.target = store, target
        self.known = entries(store.reader(), target)
        self._before: dict[str, Entry | None] = {}  # marked in this window, not yet requested -> its earlier entry
        self._answers: list[Entry] = []

    def begin(self, marks: list[Entry], settled: list[Entry]) -> None:
        """Commit a window's ``sending`` marks, with the outcomes it already knows (events refused unsent), in the
        transaction that records the previous window's answers."""
        done = self._pending()
        answers, restore, drop = done
        with self.store.writing() as con:  # one transaction a window
            ledger_rows.upsert(con, [*answers, *restore, *marks, *settled])
            ledger_rows.delete(con, self.target, drop)
        self._settled(*done)
        for e in marks:
            self._before[e.event_id] = self.known.get(e.event_id)
        for e in (*marks, *settled):
            self.known[e.event_id] = e

    def requesting(self, event_id: str) -> None:
        """The request for this event is about to leave: from now on only its answer settles it."""
        self._before.pop(event_id, None)

    def answered(self, entry: Entry) -> None:
        self._answers.append(entry)

    def end(self) -> None:
        """Commit the answers; give the window's unrequested events their earlier state (none: no row)."""
        if self._answers or self._before:
            done = self._pending()
            answers, restore, drop = done
            with self.store.writing() as con:
                ledger_rows.upsert(con, [*answers, *restore])
                ledger_rows.delete(con, self.target, drop)
            self._settled(*done)

    def _pending(self) -> tuple[list[Entry], list[Entry], list[str]]:
        """The answers not yet written, the earlier entries to restore and the rows to drop."""
        restore = [e for e in self._before.values() if e is not None]
        return list(self._answers), restore, [k for k, e in self._before.items() if e is None]

    def _settled(self, answers: list[Entry], restore: list[Entry], drop: list[str]) -> None:
        """What ``_pending`` gave is committed: the book follows."""
        for e in (*answers, *restore):
            self.known[e.event_id] = e
        for k in drop:
            self.known.pop(k, None)
        self._answers = self._answers[len(answers):]
        for k in (*(e.event_id for e in restore), *drop):
            self._before.pop(k, None)

    def set_processing_status(self, event_id: str, status: str) -> None:
        with self.store.writing() as con:
            ledger_rows.set_processing_status(con, self.target, event_id, status)
