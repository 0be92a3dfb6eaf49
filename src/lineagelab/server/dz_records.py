"""The local DataZone domains' event records (table ``dz_events``): what PostLineageEvent stored, under which token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

COLUMNS = ("domain_id, id, client_token, body_sha256, event_id, event_time, created_at, created_by, "
           "processing_status, error, body, deleted")


@dataclass
class DzEvent:
    domain_id: str
    id: str
    client_token: str | None
    body_sha256: str
    event_id: str | None
    event_time: datetime | None
    created_at: datetime
    created_by: str | None
    processing_status: str
    error: str | None
    body: str
    deleted: bool


def _one(rows: list[tuple[Any, ...]]) -> DzEvent | None:
    return DzEvent(*rows[0]) if rows else None


def by_token(con: duckdb.DuckDBPyConnection, domain: str, token: str) -> DzEvent | None:
    return _one(con.execute(f"SELECT {COLUMNS} FROM dz_events WHERE domain_id = ? AND client_token = ?",
                            [domain, token]).fetchall())


def get(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> DzEvent | None:
    return _one(con.execute(f"SELECT {COLUMNS} FROM dz_events WHERE domain_id = ? AND id = ? AND NOT deleted",
                            [domain, event_id]).fetchall())


def insert(con: duckdb.DuckDBPyConnection, e: DzEvent) -> None:
    con.execute(f"INSERT INTO dz_events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [e.domain_id, e.id, e.client_token, e.body_sha256, e.event_id, e.event_time, e.created_at,
                 e.created_by, e.processing_status, e.error, e.body, e.deleted])


def delete(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> bool:
    found = con.execute("SELECT count(*) FROM dz_events WHERE domain_id = ? AND id = ? AND NOT deleted",
                        [domain, event_id]).fetchall()[0][0]
    if found:
        con.execute("UPDATE dz_events SET deleted = true WHERE domain_id = ? AND id = ?", [domain, event_id])
    return bool(found)


def listing(
    con: duckdb.DuckDBPyConnection, domain: str, *, after: datetime | None, before: datetime | None,
    status: str | None, descending: bool, offset: int, limit: int,
) -> list[DzEvent]:
    where: list[str] = ["domain_id = ?", "NOT deleted"]
    params: list[Any] = [domain]
    if after is not None:
        where.append("event_time > ?")
        params.append(after)
    if before is not None:
        where.append("event_time < ?")
        params.append(before)
    if status is not None:
        where.append("processing_status = ?")
        params.append(status)
    order = "DESC" if descending else "ASC"
    rows = con.execute(
        f"SELECT {COLUMNS} FROM dz_events WHERE {' AND '.join(where)} "
        f"ORDER BY event_time {order}, created_at {order}, id {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [DzEvent(*r) for r in rows]


def graph_events(con: duckdb.DuckDBPyConnection, domain: str) -> list[tuple[str, str]]:
    """(id, body) of the events that make up the domain's lineage graph: processed and not deleted."""
    return [tuple(r) for r in con.execute(  # type: ignore[misc]
        "SELECT id, body FROM dz_events WHERE domain_id = ? AND processing_status = 'SUCCESS' AND NOT deleted "
        "ORDER BY event_time, created_at", [domain]).fetchall()]


def version(con: duckdb.DuckDBPyConnection, domain: str) -> tuple[int, Any]:
    """Changes whenever the domain's graph may have changed (cache key)."""
    row = con.execute("SELECT count(*), max(created_at) FROM dz_events WHERE domain_id = ? AND NOT deleted",
                      [domain]).fetchall()[0]
    return int(row[0]), row[1]
