"""What the local Glue lineage API reads of the store: the stored RunEvents and DatasetEvents, in the order they
were stored, so its graph can fold in only what is new since it last looked."""

from __future__ import annotations

import duckdb

#: The event kinds the Glue lineage API builds its graph from (it takes no JobEvents).
KINDS = ("RunEvent", "DatasetEvent")


def events_after(con: duckdb.DuckDBPyConnection, seq: int, limit: int = 5000) -> list[tuple[int, str, str, str]]:
    """(seq, event_id, kind, raw) of the stored RunEvents and DatasetEvents after ``seq``, in stored order."""
    rows = con.execute(
        "SELECT seq, event_id, kind, raw FROM raw_events WHERE seq > ? AND kind IN (?, ?) ORDER BY seq LIMIT ?",
        [seq, *KINDS, limit]).fetchall()
    return [(int(s), str(i), str(k), str(r)) for s, i, k, r in rows]


def last_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The newest stored event's sequence number (0 in an empty store)."""
    return int(con.execute("SELECT coalesce(max(seq), 0) FROM raw_events").fetchall()[0][0])


def count(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    """How many events of ``kind`` are stored."""
    return int(con.execute("SELECT count(*) FROM raw_events WHERE kind = ?", [kind]).fetchall()[0][0])
