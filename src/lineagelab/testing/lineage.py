"""Readable assertions over the lineage a transformation produced (plain event dicts in, plain sets out).

Datasets are written ``namespace/name`` (``s3://bucket/key``, ``mysql://host:3306/db.table``) or by any unique
suffix of that (``attendance.csv``); a column is ``DATASET::column``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def dataset_id(d: Mapping[str, Any]) -> str:
    return f"{d['namespace'].rstrip('/')}/{d['name'].lstrip('/')}"


@dataclass(frozen=True)
class Edge:
    """One input field feeding an output column, with one transformation."""

    source: str  # dataset id
    field: str
    type: str
    subtype: str

    def __str__(self) -> str:
        return f"{self.source}::{self.field} {self.type}/{self.subtype}"


class WriteLineage:
    """The lineage of one write action, read off its COMPLETE (or FAIL) event."""

    def __init__(self, event: Mapping[str, Any]):
        self.event = event
        self.job: str = event["job"]["name"]
        self.state: str = event["eventType"]
        self.inputs = {dataset_id(d) for d in event.get("inputs", [])}
        self.outputs = {dataset_id(d) for d in event.get("outputs", [])}
        self._columns: dict[str, set[Edge]] = {}
        self.dataset_dependencies: set[Edge] = set()
        for out in event.get("outputs", []):
            facet = out.get("facets", {}).get("columnLineage", {})
            for col, f in facet.get("fields", {}).items():
                self._columns.setdefault(col, set()).update(_edges(f.get("inputFields", [])))
            self.dataset_dependencies.update(_edges(facet.get("dataset", [])))

    @property
    def columns(self) -> dict[str, set[Edge]]:
        return dict(self._columns)

    def column(self, name: str) -> set[Edge]:
        __tracebackhide__ = True  # a failed assertion shows the user's test, not this helper
        if name not in self._columns:
            raise AssertionError(f"no column lineage for output column {name!r}; columns: {sorted(self._columns)}")
        return self._columns[name]

    def sources(self, name: str) -> set[str]:
        """``dataset::field`` of every DIRECT source of an output column."""
        __tracebackhide__ = True  # a failed assertion shows the user's test, not this helper
        return {f"{e.source}::{e.field}" for e in self.column(name) if e.type == "DIRECT"}

    def _match(self, text: str, edges: Iterable[Edge]) -> list[Edge]:
        ds, _, field = text.rpartition("::")
        return [e for e in edges if e.field == field and (e.source == ds or e.source.endswith(ds))]

    def assert_column(self, name: str, source: str, subtype: str | None = None, type: str = "DIRECT") -> None:
        """``assert_column("total", "orders.csv::amount", "AGGREGATION")``: that edge is there."""
        __tracebackhide__ = True  # a failed assertion shows the user's test, not this helper
        edges = self._match(source, self.column(name))
        hits = [e for e in edges if e.type == type and (subtype is None or e.subtype == subtype)]
        if not hits:
            have = ", ".join(sorted(str(e) for e in self.column(name))) or "nothing"
            want = f"{type}/{subtype or '*'}"
            raise AssertionError(f"column {name!r}: no {want} edge from {source}; it has {have}")

    def assert_dependency(self, source: str, subtype: str) -> None:
        """A dataset-wide INDIRECT dependency (JOIN, FILTER, GROUP_BY, SORT, WINDOW)."""
        __tracebackhide__ = True  # a failed assertion shows the user's test, not this helper
        hits = [e for e in self._match(source, self.dataset_dependencies) if e.subtype == subtype]
        if not hits:
            have = ", ".join(sorted(str(e) for e in self.dataset_dependencies)) or "nothing"
            raise AssertionError(f"no INDIRECT/{subtype} dependency on {source}; dataset dependencies: {have}")


def _edges(items: Iterable[Mapping[str, Any]]) -> set[Edge]:
    out: set[Edge] = set()
    for i in items:
        for t in i.get("transformations", []) or [{"type": "DIRECT", "subtype": "IDENTITY"}]:
            out.add(Edge(dataset_id(i), i["field"], t.get("type", ""), t.get("subtype", "")))
    return out


def writes(events: Iterable[Mapping[str, Any]]) -> list[WriteLineage]:
    """Every finished write run, in order (application runs and START events left out)."""
    return [WriteLineage(e) for e in events
            if e.get("eventType") in ("COMPLETE", "FAIL") and e.get("outputs")]
