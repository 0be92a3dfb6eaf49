"""Which runs make up "the graph": latest, cumulative, or as it was at a time.

One choice of runs feeds both the table-level and the column-level answer, so the two never disagree about which
version of a job they describe (Marquez mixes modes between its table and column endpoints; we don't).

* ``latest`` (default): each job as its most recent run with inputs or outputs shows it. A job that stopped writing a
  table no longer links to it: what a data engineer expects after changing a job.
* ``cumulative``: every edge any run ever showed. For audits ("did anything ever read this?").
* ``as-of T``: each job as its most recent run started at or before T, built only from events timed at or before T.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb

from lineagelab.events.identity import parse_time
from lineagelab.store import queries
from lineagelab.store.queries import Relations

ModeKind = Literal["latest", "cumulative", "asof"]
_PARSED: tuple[ModeKind, ...] = ("latest", "cumulative")  # the modes named by name (as-of takes a time)


@dataclass(frozen=True)
class Mode:
    kind: ModeKind = "latest"
    at: datetime | None = None

    @staticmethod
    def parse(mode: str = "latest", as_of: str | datetime | None = None) -> Mode:
        if as_of is not None:
            at = as_of if isinstance(as_of, datetime) else parse_time(as_of)
            return Mode("asof", at)
        for kind in _PARSED:
            if mode == kind:
                return Mode(kind)
        raise ValueError(f"unknown mode {mode!r}: use latest or cumulative (or --as-of TIME)")

    def __str__(self) -> str:
        return f"as-of {self.at.isoformat()}" if self.kind == "asof" and self.at else self.kind


@contextmanager
def relations(con: duckdb.DuckDBPyConnection, mode: Mode) -> Iterator[Relations]:
    """The store's relations of ``mode`` for the block's queries (as of a time: temporary tables, dropped after)."""
    if mode.kind == "latest":
        yield queries.LATEST
    elif mode.kind == "cumulative":
        yield queries.CUMULATIVE
    else:
        assert mode.at is not None
        with queries.as_of(con, mode.at) as rel:
            yield rel
