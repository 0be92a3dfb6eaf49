"""The catalog a script is read against: qualifying queries with it, a table's columns, the tables a script adds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlglot import exp
from sqlglot.errors import OptimizeError, SchemaError
from sqlglot.optimizer.qualify import qualify as sqlglot_qualify
from sqlglot.schema import MappingSchema

from lineagelab.sql.model import Catalog


def schema_of(catalog: Catalog, dialect: str) -> MappingSchema | None:
    if catalog is None or isinstance(catalog, MappingSchema):
        return catalog
    return MappingSchema(dict(catalog), dialect=dialect or None) if catalog else None


def qualify(expression: exp.Expr, catalog: Catalog, dialect: str) -> exp.Expr:
    """Columns qualified and ``*`` expanded by sqlglot; a catalog it rejects is dropped, not fatal."""
    try:
        return sqlglot_qualify(expression, schema=schema_of(catalog, dialect), dialect=dialect,
                               validate_qualify_columns=False,
                               quote_identifiers=False, identify=False, expand_stars=True,
                               allow_partial_qualification=True)
    except (OptimizeError, ValueError, KeyError, SchemaError):
        if catalog:
            return qualify(expression, None, dialect)
        return expression


def columns_of(catalog: Mapping[str, Any] | MappingSchema, name: str) -> list[str] | None:
    """A table's column names, in order, if the catalog has the table (matched by any dotted suffix)."""
    if isinstance(catalog, MappingSchema):
        try:
            return list(catalog.column_names(exp.to_table(name))) or None
        except (SchemaError, ValueError, KeyError):
            return None
    low = name.lower()
    for key, cols in _flat(catalog).items():
        if key == low or key.endswith("." + low) or low.endswith("." + key):
            return list(cols)
    return None


def add_table(known: dict[str, Any], name: str, columns: list[str]) -> bool:
    """Record a table a statement created so later statements see its columns; False if it cannot be (already
    there, or not at the catalog's nesting depth, which sqlglot needs of every table)."""
    parts = name.split(".")
    if known and len(parts) != _depth(known):
        return False
    level = known
    for p in parts[:-1]:
        nxt = level.get(p)
        if not isinstance(nxt, dict):
            nxt = level[p] = {}
        level = nxt
    if parts[-1] in level:
        return False
    level[parts[-1]] = dict.fromkeys(columns, "UNKNOWN")
    return True


def _depth(catalog: Mapping[str, Any]) -> int:
    level: Any = catalog
    depth = 0
    while isinstance(level, Mapping) and level and all(isinstance(v, Mapping) for v in level.values()):
        level = next(iter(level.values()))
        depth += 1
    return depth


def _flat(catalog: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in catalog.items():
        key = f"{prefix}{k}".lower()
        if isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
            out.update(_flat(v, key + "."))
        else:
            out[key] = list(v)
    return out
