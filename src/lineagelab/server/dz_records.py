"""The local DataZone domains' event records: what PostLineageEvent stored, under which token (stored by
``store.queries_dz``)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

import duckdb

from lineagelab.store import queries_dz
from lineagelab.store.queries_dz import graph_events, version

__all__ = ["DzEvent", "by_token", "delete", "get", "graph_events", "insert", "listing", "tokens", "version"]


@dataclass(frozen=True)
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


def _one(rows: list[queries_dz.DzRow]) -> DzEvent | None:
    return DzEvent(*rows[0]) if rows else None


def tokens(con: duckdb.DuckDBPyConnection) -> set[tuple[str, str]]:
    """(domain, Client-Token) pairs ever stored."""
    return set(queries_dz.tokens(con))


def by_token(con: duckdb.DuckDBPyConnection, domain: str, token: str) -> DzEvent | None:
    return _one(queries_dz.by_token(con, domain, token))


def get(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> DzEvent | None:
    return _one(queries_dz.get(con, domain, event_id))


def insert(con: duckdb.DuckDBPyConnection, e: DzEvent) -> None:
    queries_dz.insert(con, dataclasses.astuple(e))  # type: ignore[arg-type]


def delete(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> bool:
    return queries_dz.delete(con, domain, event_id)


def listing(
    con: duckdb.DuckDBPyConnection, domain: str, *, after: datetime | None, before: datetime | None,
    status: str | None, descending: bool, offset: int, limit: int,
) -> list[DzEvent]:
    return [DzEvent(*r) for r in queries_dz.listing(con, domain, after=after, before=before, status=status,
                                                    descending=descending, offset=offset, limit=limit)]
