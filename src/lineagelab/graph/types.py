"""The small values lineage answers are made of: node keys, column edges and their transformations, directions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, overload

from lineagelab.store.queries import NodeKind, Record

Direction = Literal["upstream", "downstream", "both"]
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream", "both")
WHOLE_ROW = "*"  # a dataset-wide dependency (join/filter/group key) reaches every column of its output


@dataclass(frozen=True, slots=True)
class NodeKey:
    """A dataset or job as a graph node."""

    kind: NodeKind
    id: int

    def as_tuple(self) -> tuple[str, int]:
        return (self.kind, self.id)

    # Read as the ("dataset", id) tuple it replaces, by code not yet reading fields (cli.py).
    @overload
    def __getitem__(self, i: Literal[0]) -> NodeKind: ...
    @overload
    def __getitem__(self, i: Literal[1]) -> int: ...
    def __getitem__(self, i: int) -> str | int:
        return self.as_tuple()[i]

    def __str__(self) -> str:
        """What the JSON, DOT and Mermaid outputs call the node: ``dataset:42``."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class ColumnKey:
    """A column of a dataset as a graph node (``WHOLE_ROW`` for the dataset-wide node)."""

    dataset: int
    field: str
    kind: Literal["column"] = "column"

    def as_tuple(self) -> tuple[str, int, str]:
        return (self.kind, self.dataset, self.field)

    # Read as the ("column", ds_id, field) tuple it replaces (cli.py).
    @overload
    def __getitem__(self, i: Literal[0]) -> str: ...
    @overload
    def __getitem__(self, i: Literal[1]) -> int: ...
    @overload
    def __getitem__(self, i: Literal[2]) -> str: ...
    def __getitem__(self, i: int) -> str | int:
        return self.as_tuple()[i]

    def __str__(self) -> str:
        return f"{self.kind}:{self.dataset}:{self.field}"


GraphKey = NodeKey | ColumnKey


@dataclass(frozen=True, slots=True)
class Transformation(Record):
    """How one job derives a column from another (``job``: the job's key, where the answer names it)."""

    job_id: int | None
    type: str | None
    subtype: str | None
    description: str | None
    masking: bool
    job: str | None = None

    def label(self) -> str:
        return f"{self.type or '?'}/{self.subtype or '?'}" + (" (masked)" if self.masking else "")

    def as_dict(self, with_job: bool) -> dict[str, str | bool | None]:
        """As the JSON answers show it (the job's id left out)."""
        out: dict[str, str | bool | None] = {"type": self.type, "subtype": self.subtype,
                                             "description": self.description, "masking": self.masking}
        if with_job:
            out["job"] = self.job
        return out


@dataclass(frozen=True, slots=True)
class ColumnEdge:
    """A column feeding another, with every transformation doing it."""

    source: ColumnKey
    target: ColumnKey
    transformations: tuple[Transformation, ...]

    # Read as the dict it replaces (cli.py).
    @overload
    def __getitem__(self, name: Literal["source", "target"]) -> ColumnKey: ...
    @overload
    def __getitem__(self, name: Literal["transformations"]) -> tuple[Transformation, ...]: ...
    def __getitem__(self, name: str) -> ColumnKey | tuple[Transformation, ...]:
        value: ColumnKey | tuple[Transformation, ...] = getattr(self, name)
        return value
