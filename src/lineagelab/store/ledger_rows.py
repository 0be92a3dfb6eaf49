"""The rows of the replay ledger (table ``replay_ledger``); what they mean is ``lineagelab.aws_targets.ledger``'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

_COLUMNS = "target, event_id, client_token, status, remote_id, processing_status, error, attempts, mapped_sha256"


@dataclass(frozen=True)
class LedgerRow:
    target: str
    event_id: str
    client_token: str
    status: str
    remote_id: str | None
    processing_status: str | None
    error: str | None
    attempts: int
    mapped_sha256: str


@dataclass(frozen=True)
class TargetSummary:
    target: str
    events: int
    sent: int
    failed: int
    in_flight: int
    processed: int
    last_update: datetime | None


def rows(con: duckdb.DuckDBPyConnection, target: str) -> list[LedgerRow]:
    return [LedgerRow(*r) for r in con.execute(
        f"SELECT {_COLUMNS} FROM replay_ledger WHERE target = ?", [target]).fetchall()]


def upsert(con: duckdb.DuckDBPyConnection, items: Sequence[LedgerRow]) -> None:
    """Insert or replace rows in one statement; ``first_sent_at`` stays that of the first write."""
    if not items:
        return
    now = datetime.now(UTC)
    columns = list(zip(*(astuple(r) for r in items), strict=True))
    names = _COLUMNS.split(", ")
    table = pa.table({
        **{n: list(c) for n, c in zip(names, columns, strict=True) if n != "attempts"},
        "attempts": pa.array(columns[names.index("attempts")], pa.int32()),
        "first_sent_at": pa.array([now] * len(items), pa.timestamp("us", tz="UTC")),
        "updated_at": pa.array([now] * len(items), pa.timestamp("us", tz="UTC")),
    })
    con.register("_ledger_batch", table)
    try:
        con.execute(
            f"""INSERT INTO replay_ledger SELECT {_COLUMNS}, first_sent_at, updated_at FROM _ledger_batch
               ON CONFLICT (target, event_id) DO UPDATE SET client_token = excluded.client_token,
                   status = excluded.status, remote_id = excluded.remote_id,
                   processing_status = excluded.processing_status, error = excluded.error,
                   attempts = excluded.attempts, mapped_sha256 = excluded.mapped_sha256,
                   updated_at = excluded.updated_at""")
    finally:
        con.unregister("_ledger_batch")


def delete(con: duckdb.DuckDBPyConnection, target: str, event_ids: Sequence[str]) -> None:
    if event_ids:
        con.execute("DELETE FROM replay_ledger WHERE target = ? AND list_contains(?, event_id)",
                    [target, list(event_ids)])


def set_processing_status(con: duckdb.DuckDBPyConnection, target: str, event_id: str, status: str) -> None:
    con.execute("UPDATE replay_ledger SET processing_status = ? WHERE target = ? AND event_id = ?",
                [status, target, event_id])


def summary(con: duckdb.DuckDBPyConnection) -> list[TargetSummary]:
    """Per target: its events, how many were acknowledged, refused, left in flight and processed."""
    return [TargetSummary(*r) for r in con.execute(
        """SELECT target, count(*) AS events, count(*) FILTER (WHERE status = 'sent') AS sent,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'sending') AS in_flight,
                  count(*) FILTER (WHERE processing_status = 'SUCCESS') AS processed,
                  max(updated_at) AS last_update
           FROM replay_ledger GROUP BY target ORDER BY target""").fetchall()]


def failures(con: duckdb.DuckDBPyConnection, target: str, limit: int = 20) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(
        "SELECT event_id, error FROM replay_ledger WHERE target = ? AND status = 'failed' ORDER BY updated_at "
        "LIMIT ?", [target, limit]).fetchall()]
