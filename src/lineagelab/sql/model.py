"""The answers of SQL lineage: sources, transformations, column lineage, statements, scripts.

Transformations follow OpenLineage's column-lineage types; along a path they combine (``combine``) and a source
reached two ways keeps the stronger relation (``merge``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from sqlglot import exp
from sqlglot.schema import MappingSchema
from sqlglot.tokenizer_core import Token

#: A catalog: {schema: {table: {column: type}}} (any nesting sqlglot accepts), or one already normalised.
Catalog = Mapping[str, Any] | MappingSchema | None

TransformationType = Literal["DIRECT", "INDIRECT"]
Subtype = Literal["IDENTITY", "TRANSFORMATION", "AGGREGATION", "CONDITIONAL", "WINDOW", "JOIN", "FILTER",
                  "GROUP_BY", "SORT"]

#: Direct relations from weakest to strongest; an unknown subtype ranks as TRANSFORMATION.
RANK = {"AGGREGATION": 0, "TRANSFORMATION": 1, "IDENTITY": 2}


@dataclass(frozen=True, order=True)
class Source:
    """A column of a table (or of a COPY's file) that feeds an output."""

    table: str
    column: str


class Transformation(NamedTuple):
    """How a source feeds its output. A named tuple, so it still equals the ``(type, subtype)`` pair it replaced."""

    type: TransformationType
    subtype: Subtype


class ColumnKey(NamedTuple):
    """An output column of a script: (table written, or "" for a plain SELECT; column)."""

    table: str
    column: str


#: Sources of one output, each with how it feeds it.
Sources = dict[Source, Transformation]


@dataclass(frozen=True)
class ColumnLineage:
    target: str  # output column name
    sources: Sources = field(default_factory=dict)


@dataclass(frozen=True)
class StatementText:
    """One statement of a script as written, and the line it starts on."""

    line: int
    text: str
    # the script's tokens of this statement, so it is parsed without tokenizing it again
    tokens: list[Token] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Statement:
    index: int
    line: int
    sql: str
    kind: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: list[ColumnLineage] = field(default_factory=list)
    dataset: Sources = field(default_factory=dict)  # dataset-wide INDIRECT dependencies
    copy_from: str | None = None  # COPY … FROM 's3://…'
    unload_to: str | None = None
    error: str | None = None
    expression: exp.Expr | None = None

    @property
    def target(self) -> str | None:
        return self.outputs[0] if self.outputs else None


@dataclass(frozen=True)
class Script:
    """A script's end-to-end lineage: tables written and then read again inside it are looked through."""

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: dict[ColumnKey, Sources] = field(default_factory=dict)


def combine(a: Transformation, b: Transformation) -> Transformation:
    """Types along a path: INDIRECT wins; else the lower of AGGREGATION < TRANSFORMATION < IDENTITY."""
    if a.type == "INDIRECT":
        return a
    if b.type == "INDIRECT":
        return b
    return a if RANK.get(a.subtype, 1) <= RANK.get(b.subtype, 1) else b


def merge(into: Sources, src: Source, t: Transformation) -> None:
    """Add ``src`` to ``into``; the same source reached two ways keeps the strongest direct relation, else the
    indirect one."""
    old = into.get(src)
    if old is None:
        into[src] = t
    elif old != t:
        if old.type == "DIRECT" and t.type == "DIRECT":
            into[src] = old if RANK.get(old.subtype, 1) >= RANK.get(t.subtype, 1) else t
        elif t.type == "DIRECT":
            into[src] = t


IDENTITY = Transformation("DIRECT", "IDENTITY")
TRANSFORMATION = Transformation("DIRECT", "TRANSFORMATION")
AGGREGATION = Transformation("DIRECT", "AGGREGATION")
CONDITIONAL = Transformation("INDIRECT", "CONDITIONAL")
WINDOW = Transformation("INDIRECT", "WINDOW")


@dataclass
class Draft:
    """A statement's lineage while its handler fills it in; ``freeze`` makes the answer."""

    sql: str
    kind: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: list[ColumnLineage] = field(default_factory=list)
    dataset: Sources = field(default_factory=dict)
    copy_from: str | None = None
    unload_to: str | None = None

    def freeze(self, index: int, line: int, expression: exp.Expr) -> Statement:
        return Statement(index, line, self.sql, self.kind, self.inputs, self.outputs, self.columns, self.dataset,
                         self.copy_from, self.unload_to, None, expression)
