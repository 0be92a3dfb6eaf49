"""The replay ledger (table ``replay_ledger``): for each target and event, the token it was sent with and the outcome.

States: ``sending`` (recorded, and committed, before the request goes out), ``sent`` (acknowledged, with the remote
id), ``failed`` (a 4xx the target will answer again the same way; the message is kept). A replay resumes from this:
``sent`` is never sent again; ``sending`` is sent again with the same Client-Token, which the target deduplicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb


@dataclass
class Entry:
    target: str
    event_id: str
    client_token: str
    status: str
    remote_id: str | None
    processing_status: str | None
    error: str | None
    attempts: int
    mapped_sha256: str


def entries(con: duckdb.DuckDBPyConnection, target: str) -> dict[str, Entry]:
    rows = con.execute(
        "SELECT target, event_id, client_token, status, remote_id, processing_status, error, attempts, mapped_sha256 "
        "FROM replay_ledger WHERE target = ?", [target]).fetchall()
    return {r[1]: Entry(*r) for r in rows}


def record_many(con: duckdb.DuckDBPyConnection, items: list[Entry]) -> None:
    """Upsert entries in one statement (a replay flushes its acknowledgements in batches)."""
    if not items:
        return
    import pyarrow as pa

    now = datetime.now(UTC)
    fields = ("target", "event_id", "client_token", "status", "remote_id", "processing_status", "error")
    table = pa.table({
        **{f: [getattr(e, f) for e in items] for f in fields},
        "attempts": pa.array([e.attempts for e in items], pa.int32()),
        "mapped_sha256": [e.mapped_sha256 for e in items],
        "first_sent_at": pa.array([now] * len(items), pa.timestamp("us", tz="UTC")),
        "updated_at": pa.array([now] * len(items), pa.timestamp("us", tz="UTC")),
    })
    con.register("_ledger_batch", table)
    try:
        con.execute(
            """INSERT INTO replay_ledger SELECT * FROM _ledger_batch
               ON CONFLICT (target, event_id) DO UPDATE SET client_token = excluded.client_token,
                   status = excluded.status, remote_id = excluded.remote_id,
                   processing_status = excluded.processing_status, error = excluded.error,
                   attempts = excluded.attempts, mapped_sha256 = excluded.mapped_sha256,
                   updated_at = excluded.updated_at""")
    finally:
        con.unregister("_ledger_batch")


def summary(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur = con.execute(
        """SELECT target, count(*) AS events, count(*) FILTER (WHERE status = 'sent') AS sent,
                  count(*) FILTER (WHERE status = 'failed') AS failed,
                  count(*) FILTER (WHERE status = 'sending') AS in_flight,
                  count(*) FILTER (WHERE processing_status = 'SUCCESS') AS processed,
                  max(updated_at) AS last_update
           FROM replay_ledger GROUP BY target ORDER BY target""")
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def failures(con: duckdb.DuckDBPyConnection, target: str, limit: int = 20) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(
        "SELECT event_id, error FROM replay_ledger WHERE target = ? AND status = 'failed' ORDER BY updated_at "
        "LIMIT ?", [target, limit]).fetchall()]
