"""Small helpers over DuckDB connections (DuckDB 2 insists every result is consumed before the next statement)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def row(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> tuple[Any, ...] | None:
    rows = con.execute(sql, params or []).fetchall()
    return tuple(rows[0]) if rows else None


def filters(*conditions: tuple[str, Any], always: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A WHERE clause (``true`` when empty) and its parameters: the ``always`` clauses, and each (clause, value)
    whose value is not None, the value given for each ``?`` of its clause."""
    where, params = list(always), []
    for clause, value in conditions:
        if value is not None:
            where.append(clause)
            params += [value] * clause.count("?")
    return " AND ".join(where) or "true", params


def in_list(values: list[str]) -> str:
    """A literal SQL list (DuckDB turns ``key IN (literals)`` on an indexed key into index lookups)."""
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")" if values else "(NULL)"


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One transaction on ``con``: committed when the block ends, rolled back if it (or the commit) raises."""
    con.execute("BEGIN")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


@contextmanager
def without_vacuum(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """No vacuum at the checkpoints of the block's commits (a setting of the whole database, restored after): large
    commits leave large row groups, and vacuum would keep merging and rewriting them."""
    vacuum = scalar(con, "SELECT current_setting('max_vacuum_tasks')")
    con.execute("SET max_vacuum_tasks = 0")
    try:
        yield
    finally:
        con.execute(f"SET max_vacuum_tasks = {int(vacuum)}")
