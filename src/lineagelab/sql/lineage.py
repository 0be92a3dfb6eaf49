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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, SchemaError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope
from sqlglot.schema import MappingSchema

RANK = {"AGGREGATION": 0, "TRANSFORMATION": 1, "IDENTITY": 2}
#: A catalog: {schema: {table: {column: type}}} (any nesting sqlglot accepts), or one already normalised.
Catalog = Mapping[str, Any] | MappingSchema | None


@dataclass(frozen=True, order=True)
class Source:
    table: str
    column: str


@dataclass
class ColumnLineage:
    target: str  # output column name
    sources: dict[Source, tuple[str, str]] = field(default_factory=dict)  # -> (type, subtype)


@dataclass
class Statement:
    index: int
    line: int
    sql: str
    kind: str = ""
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: list[ColumnLineage] = field(default_factory=list)
    dataset: dict[Source, tuple[str, str]] = field(default_factory=dict)
    copy_from: str | None = None  # COPY … FROM 's3://…'
    unload_to: str | None = None
    error: str | None = None
    expression: exp.Expr | None = None

    @property
    def target(self) -> str | None:
        return self.outputs[0] if self.outputs else None


def combine(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    """Types along a path: INDIRECT wins; else the lower of AGGREGATION < TRANSFORMATION < IDENTITY."""
    if a[0] == "INDIRECT":
        return a
    if b[0] == "INDIRECT":
        return b
    return a if RANK.get(a[1], 1) <= RANK.get(b[1], 1) else b


def _merge(into: dict[Source, tuple[str, str]], src: Source, t: tuple[str, str]) -> None:
    old = into.get(src)
    if old is None:
        into[src] = t
    elif old != t:
        # The same source reached two ways: keep the strongest direct relation, else the indirect one.
        if old[0] == "DIRECT" and t[0] == "DIRECT":
            into[src] = old if RANK.get(old[1], 1) >= RANK.get(t[1], 1) else t
        elif t[0] == "DIRECT":
            into[src] = t


def table_name(t: exp.Table) -> str:
    parts = [p.name for p in (t.args.get("catalog"), t.args.get("db"), t.this) if p is not None and p.name]
    return ".".join(parts)


# -- statement splitting ------------------------------------------------------------------------------------------
def split(sql: str, dialect: str) -> list[tuple[int, str]]:
    """(line, text) of each statement, split on top-level semicolons by sqlglot's tokenizer. A statement starts at
    its first token, so comments before it are neither in its text nor in its line number."""
    return [(line, text) for line, text, _ in _statements(sql, dialect)]


def _statements(sql: str, dialect: str) -> list[tuple[int, str, list[Any] | None]]:
    """(line, text, tokens): the tokens are parsed as they are, so each statement is tokenized once."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError:
        return [(1, sql.strip(), None)]
    out: list[tuple[int, str, list[Any] | None]] = []
    chunk: list[Any] = []
    for tok in tokens:
        if tok.token_type == sqlglot.TokenType.SEMICOLON:
            if chunk:
                out.append((chunk[0].line, sql[chunk[0].start : tok.start].strip(), chunk))
            chunk = []
        else:
            chunk.append(tok)
    if chunk:
        out.append((chunk[0].line, sql[chunk[0].start :].strip().rstrip(";").strip(), chunk))
    return out


# -- column tracing ---------------------------------------------------------------------------------------------
def _context(col: exp.Expr, root: exp.Expr) -> tuple[str, str]:
    """How ``col`` feeds the projection ``root``."""
    node: exp.Expr | None = col
    agg = False
    while node is not None and node is not root:
        parent = node.parent
        if isinstance(parent, exp.If) and node is parent.args.get("this"):
            return ("INDIRECT", "CONDITIONAL")
        if isinstance(parent, exp.Case) and node is parent.args.get("this"):
            return ("INDIRECT", "CONDITIONAL")
        if isinstance(parent, exp.Window) and node is not parent.this:
            return ("INDIRECT", "WINDOW")
        if isinstance(parent, exp.AggFunc):
            agg = True
        node = parent
    if agg:
        return ("DIRECT", "AGGREGATION")
    stripped = root.this if isinstance(root, exp.Alias) else root
    if stripped is col:
        return ("DIRECT", "IDENTITY")
    return ("DIRECT", "TRANSFORMATION")


def _ancestors_upto(node: exp.Expr) -> list[exp.Expr]:
    out = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


def _projection(scope: Scope, name: str, position: int | None = None) -> list[tuple[Scope, exp.Expr]]:
    """(scope, expression) pairs producing output column ``name`` of a (derived) scope; a union gives one per
    branch, matched by name or else by position (a union's columns are named by its first branch)."""
    if scope.set_operation_scopes:
        out = []
        first = scope.set_operation_scopes[0]
        if position is None:
            names = [p.alias_or_name.lower() for _, p in _projection_list(first)]
            position = names.index(name.lower()) if name.lower() in names else None
        for branch in scope.set_operation_scopes:
            projections = _projection_list(branch)
            if position is not None and position < len(projections):
                out.append(projections[position])
        return out
    select = scope.expression
    while isinstance(select, exp.Subquery):
        select = select.this
    if not isinstance(select, exp.Select):
        return []
    selects = select.selects
    for p in selects:
        if p.alias_or_name.lower() == name.lower():
            return [(scope, p)]
    if position is not None and position < len(selects):
        return [(scope, selects[position])]
    return []


def _projection_list(scope: Scope) -> list[tuple[Scope, exp.Expr]]:
    if scope.set_operation_scopes:
        return _projection_list(scope.set_operation_scopes[0])
    select = scope.expression
    while isinstance(select, exp.Subquery):
        select = select.this
    return [(scope, p) for p in select.selects] if isinstance(select, exp.Select) else []


class _Tracer:
    def __init__(self) -> None:
        self.cache: dict[tuple[int, str], dict[Source, tuple[str, str]]] = {}

    def expression(self, scope: Scope, root: exp.Expr) -> dict[Source, tuple[str, str]]:
        out: dict[Source, tuple[str, str]] = {}
        for sub in root.find_all(exp.Subquery):
            # a scalar subquery: its single output column's sources, in the way the subquery is used here
            inner = next((s for s in scope.subquery_scopes if s.expression is sub.this), None)
            if inner is None or sub.find_ancestor(exp.Subquery) not in (None, *_ancestors_upto(root)):
                continue
            ctx = _context(sub, root)  # type: ignore[arg-type]
            for branch, proj in _projection_list(inner)[:1]:
                for src, t in self.expression(branch, proj).items():
                    _merge(out, src, combine(ctx, t))
        for col in root.find_all(exp.Column):
            if col.find_ancestor(exp.Subquery) is not None and root.find_ancestor(exp.Subquery) is not \
                    col.find_ancestor(exp.Subquery):
                continue  # inside a subquery of this expression: traced through the subquery's scope
            ctx = _context(col, root)
            for src, t in self.column(scope, col).items():
                _merge(out, src, combine(ctx, t))
        return out

    def column(self, scope: Scope, col: exp.Column) -> dict[Source, tuple[str, str]]:
        name = col.name
        if name == "*":
            return {}
        table = col.table
        source = _lookup(scope, table) if table else None
        if source is None and table:
            # qualified by the table's own name although the query gave it an alias (SELECT db.t.x FROM db.t AS t1)
            full = ".".join(p.name for p in (col.args.get("catalog"), col.args.get("db"), col.args.get("table")) if p)
            source = next((s for _, s in scope.selected_sources.values()
                           if isinstance(s, exp.Table) and table_name(s).lower() in (full.lower(), table.lower())),
                          None)
        if source is None and not table:
            # unqualified: the one table or derived source this SELECT reads (FROM/JOIN), or the one that has it
            candidates = [(n, s) for n, (_, s) in scope.selected_sources.items()]
            producing = [(n, s) for n, s in candidates
                         if isinstance(s, Scope) and any(p.alias_or_name.lower() == name.lower()
                                                         for _, p in _projection_list(s))]
            if not candidates and scope.parent is not None:
                return self.column(scope.parent, col)  # a correlated subquery reads the enclosing query's columns
            if len(candidates) == 1:
                table, source = candidates[0]
            elif len(producing) == 1:  # the one derived source (CTE, subquery) that has such a column
                table, source = producing[0]
            else:
                # a lateral alias reference (select a+1 as b, b*2 …) resolved against this select's projections
                select = scope.expression
                if isinstance(select, exp.Select):
                    for p in select.selects:
                        if (isinstance(p, exp.Alias) and p.alias.lower() == name.lower()
                                and p.find(exp.Column) is not col):
                            return self.expression(scope, p)
                return {}
        if isinstance(source, exp.Table):
            return {Source(table_name(source), name): ("DIRECT", "IDENTITY")}
        if isinstance(source, Scope):
            key = (id(source), name.lower())
            if key in self.cache:
                return self.cache[key]
            self.cache[key] = {}
            result: dict[Source, tuple[str, str]] = {}
            for branch, proj in _projection(source, name):
                for src, t in self.expression(branch, proj).items():
                    _merge(result, src, t)
            self.cache[key] = result
            return result
        return {}


def _lookup(scope: Scope | None, name: str) -> exp.Table | Scope | None:
    """A source by name, from this scope outwards (a union branch sees the CTEs of the WITH around the union)."""
    while scope is not None:
        found = scope.sources.get(name)
        if found is not None:
            return found
        scope = scope.parent
    return None


def _reachable(root: Scope) -> list[Scope]:
    """Scopes reachable from the root (so tables of unused CTEs are not inputs)."""
    seen: dict[int, Scope] = {}
    stack = [root]
    while stack:
        s = stack.pop()
        if id(s) in seen:
            continue
        seen[id(s)] = s
        stack.extend(src for _, src in s.selected_sources.values() if isinstance(src, Scope))
        stack.extend(s.set_operation_scopes)
        stack.extend(s.subquery_scopes)
        stack.extend(getattr(s, "udtf_scopes", []))
    return list(seen.values())


DATASET_CLAUSES = (("joins", "JOIN"), ("where", "FILTER"), ("group", "GROUP_BY"), ("having", "FILTER"),
                   ("order", "SORT"))


def query_lineage_of(query: exp.Expr, stmt: Statement, catalog: Catalog, dialect: str,
                     target_columns: list[str] | None) -> None:
    """Names as written first, then qualify (which rewrites the tree in place), then trace."""
    names = _output_names(query, dialect)
    query_lineage(_qualify(query, catalog, dialect), stmt, target_columns, names)


def query_lineage(query: exp.Expr, stmt: Statement, target_columns: list[str] | None = None,
                  written_names: list[str] | None = None) -> None:
    """Fill ``stmt`` with the inputs, column lineage and dataset-wide dependencies of a query.

    ``target_columns`` (an INSERT/CREATE column list) name the outputs by position; ``written_names`` (the
    projections as written, before ``*`` expansion) only when they still line up one to one.
    """
    root = build_scope(query)
    if root is None:
        return
    tracer = _Tracer()
    scopes = _reachable(root)
    inputs: list[str] = []
    for s in scopes:
        for _, src in s.selected_sources.values():
            if isinstance(src, exp.Table) and table_name(src) not in inputs:
                inputs.append(table_name(src))
    for name in inputs:
        if name not in stmt.inputs:
            stmt.inputs.append(name)
    branches = root.set_operation_scopes or [root]
    first = branches[0].expression
    if not isinstance(first, exp.Select):
        return
    if not target_columns and written_names and len(written_names) == len(first.selects) and "*" not in written_names:
        target_columns = written_names
    for i, proj in enumerate(first.selects):
        out_name = target_columns[i] if target_columns and i < len(target_columns) else proj.alias_or_name
        if out_name == "*":
            continue
        lineage = ColumnLineage(out_name)
        for branch in branches:
            sel = branch.expression
            if isinstance(sel, exp.Select) and i < len(sel.selects):
                for source, t in tracer.expression(branch, sel.selects[i]).items():
                    _merge(lineage.sources, source, t)
        stmt.columns.append(lineage)
    for s in scopes:
        sel = s.expression
        if not isinstance(sel, exp.Select):
            continue
        for arg, subtype in DATASET_CLAUSES:
            value = sel.args.get(arg)
            nodes = value if isinstance(value, list) else [value] if value is not None else []
            for node in nodes:
                target = node.args.get("on") if arg == "joins" else node
                if target is None:
                    continue
                for col in target.find_all(exp.Column):
                    for source in tracer.column(s, col):
                        _merge(stmt.dataset, source, ("INDIRECT", subtype))


# -- statements -------------------------------------------------------------------------------------------------
def _schema(catalog: Catalog, dialect: str) -> MappingSchema | None:
    if catalog is None or isinstance(catalog, MappingSchema):
        return catalog
    return MappingSchema(dict(catalog), dialect=dialect or None) if catalog else None


def _qualify(expression: exp.Expr, catalog: Catalog, dialect: str) -> exp.Expr:
    try:
        return qualify(expression, schema=_schema(catalog, dialect), dialect=dialect,
                       validate_qualify_columns=False,
                       quote_identifiers=False, identify=False, expand_stars=True,
                       allow_partial_qualification=True)
    except (OptimizeError, ValueError, KeyError, SchemaError):
        if catalog:
            return _qualify(expression, None, dialect)
        return expression


def _schema_columns(t: exp.Expr) -> tuple[exp.Table | None, list[str] | None]:
    if isinstance(t, exp.Schema):
        table = t.this if isinstance(t.this, exp.Table) else None
        return table, [c.name for c in t.expressions]
    return (t if isinstance(t, exp.Table) else None), None


def _query_of(statement: exp.Expr) -> exp.Expr | None:
    """The query a CREATE/INSERT writes, with a WITH written before the statement moved onto it."""
    query = statement.expression
    while isinstance(query, exp.Subquery) and isinstance(query.this, exp.Query):
        query = query.this
    if not isinstance(query, exp.Query):
        return None
    with_ = statement.args.get("with_") or statement.args.get("with")
    if with_ is not None and not (query.args.get("with_") or query.args.get("with")):
        query = query.copy()
        query.set("with_" if "with_" in statement.args else "with", with_.copy())
    return query


def _output_names(query: exp.Expr, dialect: str) -> list[str]:
    """Output column names as written: an unaliased expression is named by its SQL text (as sqllineage does)."""
    first = query
    while isinstance(first, exp.SetOperation):
        first = first.this
    while isinstance(first, exp.Subquery):
        first = first.this
    if not isinstance(first, exp.Select):
        return []
    names = []
    for p in first.selects:
        if isinstance(p, exp.Alias | exp.Column | exp.Star):
            names.append(p.alias_or_name)
        else:
            names.append(p.sql(dialect or None).lower())
    return names


def analyze_statement(index: int, line: int, sql: str, dialect: str = "redshift",
                      catalog: Catalog = None, tokens: list[Any] | None = None) -> Statement:
    """One statement's lineage. ``tokens`` (from the script's tokenization) carry the script's line numbers."""
    stmt = Statement(index, line, sql)
    try:
        if tokens is not None:
            parsed_all = sqlglot.Dialect.get_or_raise(dialect).parser().parse(tokens, sql)
            if not parsed_all or parsed_all[0] is None:
                raise ParseError("empty statement")
            parsed = parsed_all[0]
        else:
            parsed = sqlglot.parse_one(sql, read=dialect)
    except (ParseError, TokenError) as exc:
        errors = getattr(exc, "errors", None) or [{}]
        first = errors[0] if errors else {}
        err_line = int(first.get("line", 1)) if tokens is not None else line + int(first.get("line", 1)) - 1
        at = f"line {err_line}, column {first.get('col', '?')}"
        desc = first.get("description") or str(exc).splitlines()[0]
        stmt.error = f"statement {index + 1} ({at}): {desc}"
        return stmt
    while isinstance(parsed, exp.Subquery) and isinstance(parsed.this, exp.Query):
        parsed = parsed.this  # "(SELECT …)" on its own
    stmt.expression = parsed
    kind_of = type(parsed).__name__.upper()
    stmt.kind = kind_of
    if isinstance(parsed, exp.Create):
        table, cols = _schema_columns(parsed.this)
        if table is not None:
            stmt.outputs.append(table_name(table))
        kind = str(parsed.args.get("kind") or "TABLE").upper()
        query = _query_of(parsed)
        like = parsed.find(exp.LikeProperty)
        if query is not None:
            stmt.kind = "CREATE_VIEW" if kind == "VIEW" else "CTAS"
            query_lineage_of(query, stmt, catalog, dialect, cols)
        elif like is not None and isinstance(like.this, exp.Table):
            stmt.kind = "CREATE_LIKE"
            stmt.inputs.append(table_name(like.this))
        elif isinstance(parsed.args.get("clone"), exp.Clone) and isinstance(parsed.args["clone"].this, exp.Table):
            stmt.kind = "CREATE_CLONE"
            stmt.inputs.append(table_name(parsed.args["clone"].this))
        else:
            stmt.kind = f"CREATE_{kind}"
    elif isinstance(parsed, exp.Insert):
        table, cols = _schema_columns(parsed.this)
        if table is not None:
            stmt.outputs.append(table_name(table))
        query = _query_of(parsed)
        if query is not None:
            if cols is None and catalog and table is not None:
                cols = _catalog_columns(catalog, table_name(table))
            query_lineage_of(query, stmt, catalog, dialect, cols)
        stmt.kind = "INSERT"
    elif isinstance(parsed, exp.Query):
        into = parsed.find(exp.Into)
        if into is not None and into.find_ancestor(exp.Subquery) is None:
            q = parsed.copy()
            for node in list(q.find_all(exp.Into)):
                node.pop()
            stmt.outputs.append(table_name(into.this))
            stmt.kind = "SELECT_INTO"
            query_lineage(_qualify(q, catalog, dialect), stmt)
        else:
            stmt.kind = "SELECT"
            query_lineage_of(parsed, stmt, catalog, dialect, None)
    elif isinstance(parsed, exp.Copy):
        stmt.kind = "COPY"
        target, cols = _schema_columns(parsed.this)
        if target is not None:
            stmt.outputs.append(table_name(target))
        files = parsed.args.get("files") or []
        if files and isinstance(files[0], exp.Literal):
            stmt.copy_from = files[0].name
            stmt.inputs.append(files[0].name)
        if cols:
            stmt.columns = [ColumnLineage(c) for c in cols]
    elif isinstance(parsed, exp.Merge):
        _merge_lineage(parsed, stmt, catalog, dialect)
    elif isinstance(parsed, exp.Update):
        _update_lineage(parsed, stmt, catalog, dialect)
    elif isinstance(parsed, exp.Delete):
        stmt.kind = "DELETE"
        if isinstance(parsed.this, exp.Table):
            stmt.outputs.append(table_name(parsed.this))
        for t in parsed.args.get("using") or []:
            if isinstance(t, exp.Table):
                stmt.inputs.append(table_name(t))
    elif isinstance(parsed, exp.Alter):
        stmt.kind = "ALTER"
        if isinstance(parsed.this, exp.Table):
            stmt.outputs.append(table_name(parsed.this))
        rename = next((a for a in parsed.args.get("actions") or [] if isinstance(a, exp.AlterRename)), None)
        if rename is not None and isinstance(parsed.this, exp.Table):
            stmt.kind = "ALTER_RENAME"
            stmt.outputs.clear()
            old = parsed.this
            new = rename.this
            new_name = table_name(new)
            if "." not in new_name and old.args.get("db"):
                new_name = f"{old.args['db'].name}.{new_name}"
            stmt.inputs.append(table_name(old))
            stmt.outputs.append(new_name)
    elif isinstance(parsed, exp.TruncateTable):
        stmt.kind = "TRUNCATE"
        stmt.outputs += [table_name(t) for t in parsed.expressions if isinstance(t, exp.Table)]
    elif isinstance(parsed, exp.Drop):
        stmt.kind = "DROP"
        for t in [parsed.this, *(parsed.expressions or []), *(parsed.args.get("tables") or [])]:
            if isinstance(t, exp.Table) and table_name(t) not in stmt.outputs:
                stmt.outputs.append(table_name(t))
    elif isinstance(parsed, exp.Command):
        _command_lineage(parsed, stmt, catalog, dialect)
    if isinstance(parsed, exp.Insert | exp.Update | exp.Merge | exp.Delete) or stmt.kind == "INSERT":
        # tables read by subqueries anywhere (VALUES ((SELECT …)), SET x = (SELECT …), WHERE … IN (SELECT …))
        ctes = {c.alias_or_name.lower() for c in parsed.find_all(exp.CTE)}
        for t in parsed.find_all(exp.Table):
            name = table_name(t)
            if (t.find_ancestor(exp.Subquery, exp.Select) is not None and t.find_ancestor(exp.CTE) is None
                    and name not in stmt.outputs and name not in stmt.inputs and name.lower() not in ctes):
                stmt.inputs.append(name)
    return stmt


def _depth(catalog: Mapping[str, Any]) -> int:
    level: Any = catalog
    depth = 0
    while isinstance(level, Mapping) and level and all(isinstance(v, Mapping) for v in level.values()):
        level = next(iter(level.values()))
        depth += 1
    return depth


def _catalog_columns(catalog: Mapping[str, Any] | MappingSchema, name: str) -> list[str] | None:
    if isinstance(catalog, MappingSchema):
        try:
            return list(catalog.column_names(exp.to_table(name))) or None
        except (SchemaError, ValueError, KeyError):
            return None
    low = name.lower()
    for key, cols in _flat_catalog(catalog).items():
        if key == low or key.endswith("." + low) or low.endswith("." + key):
            return list(cols)
    return None


def _flat_catalog(catalog: Mapping[str, Any], prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for k, v in catalog.items():
        key = f"{prefix}{k}".lower()
        if isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
            out.update(_flat_catalog(v, key + "."))
        elif isinstance(v, Mapping):
            out[key] = list(v)
        else:
            out[key] = list(v)
    return out


def _condition(stmt: Statement, condition: exp.Expr | None, alias_map: Mapping[str, str], default: str,
               subtype: str) -> None:
    """A MERGE's ON or an UPDATE's WHERE: the source columns it reads are dataset-wide INDIRECT dependencies."""
    if condition is None:
        return
    for col in condition.find_all(exp.Column):
        tbl = alias_map.get(col.table.lower(), default) if col.table else default
        if tbl != stmt.outputs[0]:
            _merge(stmt.dataset, Source(tbl, col.name), ("INDIRECT", subtype))


def _sub_lineage(body: exp.Expr, catalog: Catalog, dialect: str
                 ) -> tuple[Statement, dict[str, dict[Source, tuple[str, str]]]]:
    """Lineage of a subquery or CTE body an UPDATE/MERGE reads from: its inputs, and its columns' sources by name."""
    sub = Statement(0, 0, "")
    query_lineage(_qualify(body, catalog, dialect), sub)
    return sub, {c.target.lower(): c.sources for c in sub.columns}


def _merge_lineage(parsed: exp.Merge, stmt: Statement, catalog: Catalog, dialect: str) -> None:
    stmt.kind = "MERGE"
    target = parsed.this
    source = parsed.args.get("using")
    if isinstance(target, exp.Table):
        stmt.outputs.append(table_name(target))
    alias_map: dict[str, str] = {}
    for t in (target, source):
        if isinstance(t, exp.Table):
            alias_map[(t.alias or t.name).lower()] = table_name(t)
    through: dict[str, dict[Source, tuple[str, str]]] = {}
    if isinstance(source, exp.Table):
        stmt.inputs.append(table_name(source))
        src_name = table_name(source)
    elif isinstance(source, exp.Subquery):
        sub, through = _sub_lineage(source.this, catalog, dialect)
        stmt.inputs += [i for i in sub.inputs if i not in stmt.inputs]
        src_name = source.alias or "source"
        alias_map[src_name.lower()] = src_name
    else:
        return
    target_alias = (target.alias or target.name).lower() if isinstance(target, exp.Table) else ""
    derived = isinstance(source, exp.Subquery)

    def sources(e: exp.Expr) -> dict[Source, tuple[str, str]]:
        out: dict[Source, tuple[str, str]] = {}
        for col in e.find_all(exp.Column):
            tbl = alias_map.get(col.table.lower(), src_name) if col.table else src_name
            if col.table.lower() == target_alias:
                tbl = stmt.outputs[0]
            ctx = _context(col, e)
            if derived and tbl == src_name and col.name.lower() in through:
                for s, t in through[col.name.lower()].items():  # through the subquery to its tables
                    _merge(out, s, combine(ctx, t))
            else:
                out[Source(tbl, col.name)] = ctx
        return out

    by_target: dict[str, ColumnLineage] = {}
    for when in (parsed.args.get("whens") or exp.Whens()).expressions:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            for eq in then.expressions:
                if isinstance(eq, exp.EQ):
                    cl = by_target.setdefault(eq.this.name, ColumnLineage(eq.this.name))
                    for s, t in sources(eq.expression).items():
                        _merge(cl.sources, s, t)
        elif isinstance(then, exp.Insert):
            cols = [c.name for c in (then.this.expressions if isinstance(then.this, exp.Tuple) else [])]
            vals = then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
            for c, v in zip(cols, vals, strict=False):
                cl = by_target.setdefault(c, ColumnLineage(c))
                for s, t in sources(v).items():
                    _merge(cl.sources, s, t)
    stmt.columns = list(by_target.values())
    _condition(stmt, parsed.args.get("on"), alias_map, src_name, "JOIN")


def _update_lineage(parsed: exp.Update, stmt: Statement, catalog: Catalog, dialect: str) -> None:
    stmt.kind = "UPDATE"
    target = parsed.this
    if not isinstance(target, exp.Table):
        return
    stmt.outputs.append(table_name(target))
    alias_map = {(target.alias or target.name).lower(): table_name(target)}
    from_ = parsed.args.get("from_") or parsed.args.get("from")
    tables = [t for t in from_.find_all(exp.Table) if t.find_ancestor(exp.Subquery) is None] if from_ else []
    for t in tables:
        alias_map[(t.alias or t.name).lower()] = table_name(t)
        stmt.inputs.append(table_name(t))
    derived = {s.alias.lower(): s.this for s in (from_.find_all(exp.Subquery) if from_ else [])
               if s.alias and isinstance(s.this, exp.Query)}
    ctes = {c.alias_or_name.lower(): c.this for c in parsed.find_all(exp.CTE)}
    through: dict[str, dict[str, dict[Source, tuple[str, str]]]] = {}
    for name, body in derived.items():
        sub, through[name] = _sub_lineage(body, catalog, dialect)
        alias_map[name] = name
        stmt.inputs += [i for i in sub.inputs if i not in stmt.inputs]
    for name, body in ctes.items():
        sub, through[name] = _sub_lineage(body, catalog, dialect)
        if name in [i.lower() for i in stmt.inputs]:
            stmt.inputs = [i for i in stmt.inputs if i.lower() != name] + [i for i in sub.inputs
                                                                           if i not in stmt.inputs]
    default = table_name(tables[0]) if len(tables) == 1 else table_name(target)
    for eq in parsed.expressions:
        if not isinstance(eq, exp.EQ):
            continue
        cl = ColumnLineage(eq.this.name)
        for col in eq.expression.find_all(exp.Column):
            tbl = alias_map.get(col.table.lower(), default) if col.table else default
            ctx = _context(col, eq.expression)
            via = through.get(tbl.lower(), {}).get(col.name.lower())
            if via is not None:
                for src, t in via.items():
                    _merge(cl.sources, src, combine(ctx, t))
            else:
                _merge(cl.sources, Source(tbl, col.name), ctx)
        stmt.columns.append(cl)
    _condition(stmt, parsed.args.get("where"), alias_map, default, "FILTER")



def _command_lineage(parsed: exp.Command, stmt: Statement, catalog: Catalog, dialect: str) -> None:
    """Statements sqlglot keeps as commands: Redshift's UNLOAD and ALTER TABLE APPEND.

    The command's pieces come from sqlglot's tokens; the inner query of UNLOAD is parsed with sqlglot again.
    """
    text = stmt.sql
    dialect_obj = sqlglot.Dialect.get_or_raise(dialect)
    tokens = dialect_obj.tokenize(text)
    if len(tokens) == 2 and tokens[0].token_type == sqlglot.TokenType.COMMAND:
        tokens = [tokens[0], *dialect_obj.tokenize(tokens[1].text)]  # the rest of a command is one string token
    words = [t.text.upper() for t in tokens]
    if words[:1] == ["UNLOAD"]:
        strings = [t.text for t in tokens if t.token_type == sqlglot.TokenType.STRING]
        if len(strings) >= 2:
            stmt.kind = "UNLOAD"
            stmt.unload_to = strings[1]
            stmt.outputs.append(strings[1])
            inner = sqlglot.parse_one(strings[0], read=dialect)
            query_lineage(_qualify(inner, catalog, dialect), stmt)
    elif words[:2] == ["ALTER", "TABLE"] and "APPEND" in words:
        i = words.index("APPEND")
        target = "".join(t.text for t in tokens[2:i])
        source = "".join(t.text for t in tokens[i + 2 :] if t.text.upper() not in ("IGNOREEXTRA", "FILLTARGET"))
        stmt.kind = "ALTER_APPEND"
        stmt.inputs.append(source)
        stmt.outputs.append(target)


def analyze(sql: str, dialect: str = "redshift", catalog: Catalog = None) -> list[Statement]:
    """Every statement of a script, each with its lineage or its error; one bad statement spoils no other.

    Tables a statement creates (CTAS, views) add their columns to the catalog the later statements see, as they
    would in the database.
    """
    known: dict[str, Any] = dict(catalog) if isinstance(catalog, Mapping) else {}
    schema: MappingSchema | None = None  # normalised once, not for every statement
    out = []
    for i, (line, text, tokens) in enumerate(_statements(sql, dialect)):
        if known and schema is None:
            try:
                schema = MappingSchema(known, dialect=dialect or None)
            except (SchemaError, ValueError):
                schema = None
        stmt = analyze_statement(i, line, text, dialect, schema or known or None, tokens)
        out.append(stmt)
        if stmt.kind in ("CTAS", "CREATE_VIEW", "SELECT_INTO") and stmt.target and stmt.columns:
            parts = stmt.target.split(".")
            if known and len(parts) != _depth(known):
                continue  # sqlglot needs every table at the catalog's nesting depth
            level = known
            for p in parts[:-1]:
                nxt = level.get(p)
                if not isinstance(nxt, dict):
                    nxt = level[p] = {}
                level = nxt
            if parts[-1] not in level:
                level[parts[-1]] = {c.target: "UNKNOWN" for c in stmt.columns}
                schema = None  # the catalog grew: normalise again
    return out


@dataclass
class Script:
    """A script's end-to-end lineage: tables written and then read again inside it are looked through."""

    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    columns: dict[tuple[str, str], dict[Source, tuple[str, str]]] = field(default_factory=dict)


def compose(statements: list[Statement]) -> Script:
    script = Script()
    produced: dict[str, dict[str, dict[Source, tuple[str, str]]]] = {}  # table -> column -> sources
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
            resolved: dict[Source, tuple[str, str]] = {}
            for src, t in cl.sources.items():
                upstream = produced.get(src.table.lower(), {}).get(src.column.lower())
                if upstream is not None:
                    read_later.add(src.table.lower())
                    for s2, t2 in upstream.items():
                        _merge(resolved, s2, combine(t, t2))
                else:
                    _merge(resolved, src, t)
            if stmt.target:
                produced.setdefault(stmt.target.lower(), {}).setdefault(cl.target.lower(), {}).update(resolved)
            script.columns[(stmt.target or "", cl.target)] = resolved
        if stmt.kind == "ALTER_RENAME" and stmt.inputs and stmt.target:
            old = stmt.inputs[0].lower()
            if old in produced:
                produced[stmt.target.lower()] = produced.pop(old)
                produced_inputs[stmt.target.lower()] = produced_inputs.pop(old, [])
                read_later.add(old)
                inputs = produced_inputs[stmt.target.lower()]
        for out in stmt.outputs:
            known = produced_inputs.setdefault(out.lower(), [])
            known.extend(i for i in inputs if i not in known)
        script.inputs += [i for i in inputs if i not in script.inputs]
        script.outputs += [o for o in stmt.outputs if o not in script.outputs]
    script.outputs = [o for o in script.outputs if o.lower() not in read_later]
    script.columns = {k: v for k, v in script.columns.items() if k[0].lower() not in read_later}
    return script

