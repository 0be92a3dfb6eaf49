"""Table- and column-level lineage of SQL statements, from sqlglot's parse tree and scopes (never regexes).

Conventions (OpenLineage's column-lineage semantics; the README states them):

* A column's sources are the columns its expression reads: a bare column is DIRECT/IDENTITY, an expression with an
  aggregate is DIRECT/AGGREGATION, any other expression DIRECT/TRANSFORMATION. Columns in CASE conditions are
  INDIRECT/CONDITIONAL and window PARTITION BY / ORDER BY keys INDIRECT/WINDOW sources *of that column*.
* JOIN, WHERE, GROUP BY, HAVING and ORDER BY columns are dataset-wide INDIRECT dependencies (JOIN, FILTER, GROUP_BY,
  FILTER, SORT), not column edges: they shape every row of the output.
* Through CTEs and subqueries the types combine: INDIRECT wins; else the lowest of AGGREGATION < TRANSFORMATION <
  IDENTITY. ``*`` and ``alias.*`` expand from the catalog; without a catalog they add no column edges.
* Tables only used by unused CTEs are not inputs. DELETE/TRUNCATE/DROP make their table an output; ALTER TABLE
  RENAME reads the old name and writes the new one. A plain SELECT has no output table; its columns are named alone.
* INSERT column lists map by position. Identifiers are case-insensitive unless quoted.

Column resolution is in ``sql.columns``, the handler of each statement kind in ``sql.statements``, the answers'
types in ``sql.model``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SchemaError, TokenError
from sqlglot.schema import MappingSchema
from sqlglot.tokenizer_core import Token

from lineagelab.sql.catalog import add_table
from lineagelab.sql.model import (
    Catalog,
    ColumnKey,
    ColumnLineage,
    Draft,
    Script,
    Source,
    Sources,
    Statement,
    StatementText,
    Transformation,
    combine,
    merge,
)
from lineagelab.sql.statements import Context, handler_for

__all__ = ["Catalog", "ColumnKey", "ColumnLineage", "Script", "Source", "Statement", "StatementText",
           "Transformation", "analyze", "analyze_statement", "compose", "split"]

#: Statement kinds whose output table later statements of the script can read with its columns.
_CREATES_COLUMNS = ("CTAS", "CREATE_VIEW", "SELECT_INTO")


def split(sql: str, dialect: str) -> list[StatementText]:
    """Each statement of a script, split on top-level semicolons by sqlglot's tokenizer. A statement starts at its
    first token, so comments before it are neither in its text nor in its line number."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        return [StatementText(1, sql.strip())]
    out: list[StatementText] = []
    chunk: list[Token] = []
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            if chunk:
                out.append(StatementText(chunk[0].line, sql[chunk[0].start : tok.start].strip(), chunk))
            chunk = []
        else:
            chunk.append(tok)
    if chunk:
        out.append(StatementText(chunk[0].line, sql[chunk[0].start :].strip().rstrip(";").strip(), chunk))
    return out


def analyze_statement(index: int, line: int, sql: str, dialect: str = "redshift",
                      catalog: Catalog = None, tokens: list[Token] | None = None) -> Statement:
    """One statement's lineage. ``tokens`` (from the script's tokenization) carry the script's line numbers."""
    try:
        parsed = _parse(sql, dialect, tokens)
    except (ParseError, TokenError) as exc:
        return Statement(index, line, sql, error=_located(exc, index, line, tokens is not None))
    while isinstance(parsed, exp.Subquery) and isinstance(parsed.this, exp.Query):
        parsed = parsed.this  # "(SELECT …)" on its own
    draft = Draft(sql, kind=type(parsed).__name__.upper())
    handler = handler_for(parsed)
    if handler is not None:
        handler(parsed, draft, Context(catalog, dialect))
    return draft.freeze(index, line, parsed)


def _parse(sql: str, dialect: str, tokens: list[Token] | None) -> exp.Expr:
    if tokens is None:
        return sqlglot.parse_one(sql, read=dialect)
    parsed = sqlglot.Dialect.get_or_raise(dialect).parser().parse(tokens, sql)
    if not parsed or parsed[0] is None:
        raise ParseError("empty statement")
    return parsed[0]


def _located(exc: ParseError | TokenError, index: int, line: int, script_lines: bool) -> str:
    """The error's first line, at the script's line (tokens of the script) or offset from the statement's."""
    errors = getattr(exc, "errors", None) or [{}]
    first = errors[0] if errors else {}
    err_line = int(first.get("line", 1)) if script_lines else line + int(first.get("line", 1)) - 1
    at = f"line {err_line}, column {first.get('col', '?')}"
    desc = first.get("description") or str(exc).splitlines()[0]
    return f"statement {index + 1} ({at}): {desc}"


def analyze(sql: str, dialect: str = "redshift", catalog: Catalog = None) -> list[Statement]:
    """Every statement of a script, each with its lineage or its error; one bad statement spoils no other.

    Tables a statement creates (CTAS, views) add their columns to the catalog the later statements see, as they
    would in the database.
    """
    known: dict[str, Any] = dict(catalog) if isinstance(catalog, Mapping) else {}
    schema: MappingSchema | None = None  # normalised once, not for every statement
    out = []
    for i, piece in enumerate(split(sql, dialect)):
        if known and schema is None:
            try:
                schema = MappingSchema(known, dialect=dialect or None)
            except (SchemaError, ValueError):
                schema = None
        stmt = analyze_statement(i, piece.line, piece.text, dialect, schema or known or None, piece.tokens)
        out.append(stmt)
        if (stmt.kind in _CREATES_COLUMNS and stmt.target and stmt.columns
                and add_table(known, stmt.target, [c.target for c in stmt.columns])):
            schema = None  # the catalog grew: normalise again
    return out


def compose(statements: list[Statement]) -> Script:
    """A script's lineage end to end: what a statement reads from a table an earlier one wrote is traced to that
    table's own sources, and such intermediate tables are neither outputs nor inputs of the script."""
    inputs_all: list[str] = []
    outputs_all: list[str] = []
    columns: dict[ColumnKey, Sources] = {}
    produced: dict[str, dict[str, Sources]] = {}  # table -> column -> sources
    produced_inputs: dict[str, list[str]] = {}
    read_later: set[str] = set()
    for stmt in statements:
        if stmt.error:
            continue
        inputs: list[str] = []
        for name in stmt.inputs:
            key = name.lower()
            if key in produced_inputs:
                read_later.add(key)
                inputs += produced_inputs[key]
            else:
                inputs.append(name)
        for cl in stmt.columns:
            resolved: Sources = {}
            for src, t in cl.sources.items():
                upstream = produced.get(src.table.lower(), {}).get(src.column.lower())
                if upstream is not None:
                    read_later.add(src.table.lower())
                    for s2, t2 in upstream.items():
                        merge(resolved, s2, combine(t, t2))
                else:
                    merge(resolved, src, t)
            if stmt.target:
                produced.setdefault(stmt.target.lower(), {}).setdefault(cl.target.lower(), {}).update(resolved)
            columns[ColumnKey(stmt.target or "", cl.target)] = resolved
        if stmt.kind == "ALTER_RENAME" and stmt.inputs and stmt.target:
            old = stmt.inputs[0].lower()
            if old in produced:
                produced[stmt.target.lower()] = produced.pop(old)
                produced_inputs[stmt.target.lower()] = produced_inputs.pop(old, [])
                read_later.add(old)
                inputs = produced_inputs[stmt.target.lower()]
        for written in stmt.outputs:
            known = produced_inputs.setdefault(written.lower(), [])
            known.extend(i for i in inputs if i not in known)
        inputs_all += [i for i in inputs if i not in inputs_all]
        outputs_all += [o for o in stmt.outputs if o not in outputs_all]
    return Script(inputs=inputs_all,
                  outputs=[o for o in outputs_all if o.lower() not in read_later],
                  columns={k: v for k, v in columns.items() if k.table.lower() not in read_later})
