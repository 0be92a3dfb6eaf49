"""Reads of ``event_warnings``: the deviations from the spec stored events were accepted with (``events.leniency``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from lineagelab.store.sqlutil import filters, scalar


@dataclass(frozen=True, slots=True)
class StoredWarning:
    """One warning of one stored event, with what names the event."""

    event_id: str
    kind: str
    event_time: datetime | None
    job: str | None  # namespace.name, for run and job events
    producer: str | None
    path: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "kind": self.kind, "event_time": self.event_time, "job": self.job,
                "producer": self.producer, "path": self.path, "message": self.message}


def counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Warnings stored, and events that have any."""
    return {"warnings": scalar(con, "SELECT count(*) FROM event_warnings"),
            "events_with_warnings": scalar(con, "SELECT count(DISTINCT event_id) FROM event_warnings")}


def listing(con: duckdb.DuckDBPyConnection, *, event_id: str | None = None, path: str | None = None,
            limit: int | None = None) -> list[StoredWarning]:
    """Warnings in the order their events were stored, optionally of one event (an id or its unique prefix) or at
    JSON paths containing ``path``."""
    where, params = filters(("starts_with(w.event_id, ?)", event_id), ("contains(w.path, ?)", path))
    sql = ("SELECT w.event_id, r.kind, r.event_time, CASE WHEN r.job_name IS NULL THEN NULL ELSE "
           "r.job_namespace || '.' || r.job_name END, r.producer, w.path, w.message "
           "FROM event_warnings w JOIN raw_events r USING (event_id) "
           f"WHERE {where} ORDER BY r.seq, w.n")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [StoredWarning(*row) for row in con.execute(sql, params).fetchall()]


def by_path(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, int]]:
    """(JSON path with array indexes as [*], message, events) of the warnings, most frequent first."""
    return [(r[0], r[1], int(r[2])) for r in con.execute(
        "SELECT regexp_replace(path, '\\[[0-9]+\\]', '[*]', 'g') AS p, message, count(DISTINCT event_id) AS n "
        "FROM event_warnings GROUP BY p, message ORDER BY n DESC, p, message").fetchall()]
