"""The store file's layout: its version in ``meta``, creating a store, and migrating an older layout to this one.

A layout is two numbers, ``raw.derived``: raw events are migrated statement by statement (``schema.RAW_MIGRATIONS``),
the derived tables are derived again (``rebuild``). A store written by a newer lineagelab is refused, not guessed at.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from lineagelab import __version__
from lineagelab.store import schema
from lineagelab.store.errors import StoreError
from lineagelab.store.rebuild import rebuild
from lineagelab.store.sqlutil import transaction
from lineagelab.store.writes import Writes

Layout = tuple[int, int]  # (raw_version, derived_version)


def layout_of(con: duckdb.DuckDBPyConnection, path: Path) -> Layout | None:
    """The layout of the store on ``con`` (None: an empty file); a layout newer than this lineagelab's, or a DuckDB
    file that is no lineage store, raises."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "meta" not in tables:
        if "raw_events" in tables:
            return (1, 0)
        if tables:
            raise StoreError(f"{path} is a DuckDB file but not a lineage store (no meta table)")
        return None
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    if not meta:
        return None
    raw_v, derived_v = int(meta.get("raw_version", "0")), int(meta.get("derived_version", "0"))
    if raw_v > schema.RAW_VERSION or derived_v > schema.DERIVED_VERSION:
        raise StoreError(
            f"{path} was written by a newer lineagelab ({meta.get('written_by', '?')}, store layout "
            f"{raw_v}.{derived_v}); this is lineagelab {__version__} (layout "
            f"{schema.RAW_VERSION}.{schema.DERIVED_VERSION}): upgrade lineagelab to read it"
        )
    return (raw_v, derived_v)


def outdated(layout: Layout) -> bool:
    return layout[0] < schema.RAW_VERSION or layout[1] < schema.DERIVED_VERSION


def create(con: duckdb.DuckDBPyConnection) -> None:
    """The tables of an empty store, at this layout."""
    with transaction(con):
        con.execute(schema.META)
        con.execute(schema.RAW_V1)
        for version in sorted(schema.RAW_MIGRATIONS):
            for stmt in schema.RAW_MIGRATIONS[version]:
                con.execute(stmt)
        con.execute(schema.DERIVED)
        set_meta(con)


def migrate(writes: Writes, layout: Layout) -> None:
    """Bring a store of an older ``layout`` to this one, in one transaction."""
    con = writes.con
    with transaction(con):
        con.execute(schema.META)
        for version in sorted(schema.RAW_MIGRATIONS):
            if version > layout[0]:
                for stmt in schema.RAW_MIGRATIONS[version]:
                    con.execute(stmt)
        rebuild(writes)
        set_meta(con)


def set_meta(con: duckdb.DuckDBPyConnection) -> None:
    """Record this layout, and which lineagelab wrote it."""
    values = {
        "raw_version": str(schema.RAW_VERSION),
        "derived_version": str(schema.DERIVED_VERSION),
        "written_by": f"lineagelab {__version__}",
    }
    for k, v in values.items():
        con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [k, v])
