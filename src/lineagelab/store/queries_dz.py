"""The store's table of the local DataZone domains' events (``dz_events``): what PostLineageEvent stored, under which
Client-Token. The records' meaning lives with the DataZone API (``server/dz_records.py``); this is their storage.

A row is the record's columns in ``COLUMNS`` order.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from lineagelab.store.sqlutil import filters

COLUMNS = ("domain_id, id, client_token, body_sha256, event_id, event_time, created_at, created_by, "
           "processing_status, error, body, deleted")
#: One record in ``COLUMNS`` order.
DzRow = tuple[str, str, str | None, str, str | None, datetime | None, datetime, str | None, str, str | None, str, bool]


def tokens(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """(domain, Client-Token) of every record stored with a token."""
    return con.execute("SELECT domain_id, client_token FROM dz_events WHERE client_token IS NOT NULL").fetchall()


def by_token(con: duckdb.DuckDBPyConnection, domain: str, token: str) -> list[DzRow]:
    return con.execute(f"SELECT {COLUMNS} FROM dz_events WHERE domain_id = ? AND client_token = ?",
                       [domain, token]).fetchall()


def get(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> list[DzRow]:
    """The record (not deleted) of that id, if any."""
    return con.execute(f"SELECT {COLUMNS} FROM dz_events WHERE domain_id = ? AND id = ? AND NOT deleted",
                       [domain, event_id]).fetchall()


def insert(con: duckdb.DuckDBPyConnection, row: DzRow) -> None:
    con.execute(f"INSERT INTO dz_events ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", list(row))


def delete(con: duckdb.DuckDBPyConnection, domain: str, event_id: str) -> bool:
    """Mark the record deleted; whether there was one (not yet deleted)."""
    found = con.execute("SELECT count(*) FROM dz_events WHERE domain_id = ? AND id = ? AND NOT deleted",
                        [domain, event_id]).fetchall()[0][0]
    if found:
        con.execute("UPDATE dz_events SET deleted = true WHERE domain_id = ? AND id = ?", [domain, event_id])
    return bool(found)


def listing(
    con: duckdb.DuckDBPyConnection, domain: str, *, after: datetime | None, before: datetime | None,
    status: str | None, descending: bool, offset: int, limit: int,
) -> list[DzRow]:
    """A page of the domain's records (not deleted) by event time, filtered."""
    where, params = filters(("domain_id = ?", domain), ("event_time > ?", after), ("event_time < ?", before),
                            ("processing_status = ?", status), always=["NOT deleted"])
    order = "DESC" if descending else "ASC"
    return con.execute(
        f"SELECT {COLUMNS} FROM dz_events WHERE {where} "
        f"ORDER BY event_time {order}, created_at {order}, id {order} LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()


def graph_events(con: duckdb.DuckDBPyConnection, domain: str) -> list[tuple[str, str]]:
    """(id, body) of the events that make up the domain's lineage graph: processed and not deleted."""
    return [(str(i), str(body)) for i, body in con.execute(
        "SELECT id, body FROM dz_events WHERE domain_id = ? AND processing_status = 'SUCCESS' AND NOT deleted "
        "ORDER BY event_time, created_at", [domain]).fetchall()]


def version(con: duckdb.DuckDBPyConnection, domain: str) -> tuple[int, datetime | None]:
    """Changes whenever the domain's graph may have changed (cache key)."""
    row = con.execute("SELECT count(*), max(created_at) FROM dz_events WHERE domain_id = ? AND NOT deleted",
                      [domain]).fetchall()[0]
    return int(row[0]), row[1]
