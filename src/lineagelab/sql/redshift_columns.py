"""Redshift's column attributes that sqlglot's Redshift parser does not know: ``DISTKEY`` and ``SORTKEY`` on a
column (``customer_id INT DISTKEY``). Registered once, when ``lineagelab.sql`` is imported, so that ``sql lineage``
and the local Redshift parse the DDL Redshift accepts; PostgreSQL has no such thing, so ``to_postgres`` drops them.
(``ENCODE``, ``IDENTITY(seed, step)`` and ``DEFAULT`` sqlglot parses already.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.dialects.redshift import Redshift

KEY_ATTRIBUTES = frozenset({"DISTKEY", "SORTKEY"})


def _parse_key(word: str) -> Callable[[Any], exp.Expr]:
    # a bare variable as the constraint's kind: every generator prints it back as the word, so no dialect needs
    # to learn a new expression type
    return lambda _parser: exp.var(word)


def is_key_attribute(constraint: exp.ColumnConstraint) -> bool:
    kind = constraint.args.get("kind")
    return isinstance(kind, exp.Var) and kind.name.upper() in KEY_ATTRIBUTES


def register() -> None:
    parsers = Redshift.Parser.CONSTRAINT_PARSERS
    if not parsers.keys() >= KEY_ATTRIBUTES:
        Redshift.Parser.CONSTRAINT_PARSERS = {**parsers, **{w: _parse_key(w) for w in KEY_ATTRIBUTES}}


register()
