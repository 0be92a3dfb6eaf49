"""Reading the raw events back: counts for ``store stats``, filtered event streams for export and replay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import duckdb
import orjson

from lineagelab.store import warnings
from lineagelab.store.sqlutil import filters, row, scalar


def stats(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, Any]:
    """Counts, time range and size on disk of the store at ``path``, read on ``con``."""
    counts = {
        "events": scalar(con, "SELECT count(*) FROM raw_events"),
        "run_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='RunEvent'"),
        "dataset_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='DatasetEvent'"),
        "job_events": scalar(con, "SELECT count(*) FROM raw_events WHERE kind='JobEvent'"),
        "runs": scalar(con, "SELECT count(*) FROM runs"),
        "jobs": scalar(con, "SELECT count(*) FROM jobs"),
        "job_versions": scalar(con, "SELECT count(*) FROM job_versions"),
        "datasets": scalar(con, "SELECT count(*) FROM datasets"),
        "dataset_versions": scalar(con, "SELECT count(*) FROM dataset_versions"),
        "column_edges": scalar(con, "SELECT count(*) FROM all_col"),
        "symlinked_identities": scalar(con, "SELECT count(*) FROM aliases"),
        **warnings.counts(con),
    }
    first, last = row(con, "SELECT min(event_time), max(event_time) FROM raw_events") or (None, None)
    size = sum(p.stat().st_size for p in (path, Path(str(path) + ".wal")) if p.exists())
    return {**counts, "first_event": first, "last_event": last, "size_bytes": size, "path": str(path)}


def iter_events(
    cur: duckdb.DuckDBPyConnection, *, since: datetime | None = None, until: datetime | None = None,
    job: str | None = None, run: str | None = None,
) -> Iterator[tuple[str, str, str]]:
    """(event_id, kind, raw) of the stored events in eventTime order, filtered, read on ``cur`` (closed after)."""
    where, params = filters(("event_time >= ?", since), ("event_time <= ?", until), ("run_id = ?", run),
                            ("(job_name = ? OR job_namespace || '.' || job_name = ?)", job))
    cur.execute(f"SELECT event_id, kind, raw FROM raw_events WHERE {where} ORDER BY event_time, seq", params)
    while chunk := cur.fetchmany(2000):
        yield from ((r[0], r[1], r[2]) for r in chunk)
    cur.close()


def export_events(raws: Iterator[str], out: IO[bytes]) -> int:
    """Write raw events as NDJSON; a multi-line original is compacted (same content, same event id)."""
    n = 0
    for raw in raws:
        data = raw.encode("utf-8")
        if b"\n" in data or b"\r" in data:
            data = orjson.dumps(orjson.loads(data))
        out.write(data + b"\n")
        n += 1
    return n
