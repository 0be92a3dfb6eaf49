"""Column resolution: which table columns each output column of a query reads, traced through sqlglot's scopes.

A bare column is DIRECT/IDENTITY, an expression with an aggregate DIRECT/AGGREGATION, any other expression
DIRECT/TRANSFORMATION; CASE conditions are INDIRECT/CONDITIONAL and window keys INDIRECT/WINDOW sources of that
column. JOIN, WHERE, GROUP BY, HAVING and ORDER BY columns are dataset-wide INDIRECT dependencies. Through CTEs and
subqueries the types combine (``model.combine``).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope, build_scope

from lineagelab.sql.catalog import qualify
from lineagelab.sql.model import (
    AGGREGATION,
    CONDITIONAL,
    IDENTITY,
    TRANSFORMATION,
    WINDOW,
    Catalog,
    ColumnLineage,
    Draft,
    Source,
    Sources,
    Subtype,
    Transformation,
    combine,
    merge,
)

#: SELECT clauses whose columns shape every row of the output, and the INDIRECT subtype each gives.
DATASET_CLAUSES: tuple[tuple[str, Subtype], ...] = (
    ("joins", "JOIN"), ("where", "FILTER"), ("group", "GROUP_BY"), ("having", "FILTER"), ("order", "SORT"))


def table_name(t: exp.Table) -> str:
    parts = [p.name for p in (t.args.get("catalog"), t.args.get("db"), t.this) if p is not None and p.name]
    return ".".join(parts)


def context_of(col: exp.Expr, root: exp.Expr) -> Transformation:
    """How ``col`` feeds the projection ``root``."""
    node: exp.Expr | None = col
    agg = False
    while node is not None and node is not root:
        parent = node.parent
        if isinstance(parent, exp.If) and node is parent.args.get("this"):
            return CONDITIONAL
        if isinstance(parent, exp.Case) and node is parent.args.get("this"):
            return CONDITIONAL
        if isinstance(parent, exp.Window) and node is not parent.this:
            return WINDOW
        if isinstance(parent, exp.AggFunc):
            agg = True
        node = parent
    if agg:
        return AGGREGATION
    stripped = root.this if isinstance(root, exp.Alias) else root
    if stripped is col:
        return IDENTITY
    return TRANSFORMATION


def _ancestors(node: exp.Expr) -> list[exp.Expr]:
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
    """Traces expressions and columns to table columns; a derived column is traced once per query."""

    def __init__(self) -> None:
        self.cache: dict[tuple[int, str], Sources] = {}

    def expression(self, scope: Scope, root: exp.Expr) -> Sources:
        out: Sources = {}
        for sub in root.find_all(exp.Subquery):
            # a scalar subquery: its single output column's sources, in the way the subquery is used here
            inner = next((s for s in scope.subquery_scopes if s.expression is sub.this), None)
            if inner is None or sub.find_ancestor(exp.Subquery) not in (None, *_ancestors(root)):
                continue
            ctx = context_of(sub, root)
            for branch, proj in _projection_list(inner)[:1]:
                for src, t in self.expression(branch, proj).items():
                    merge(out, src, combine(ctx, t))
        for col in root.find_all(exp.Column):
            if col.find_ancestor(exp.Subquery) is not None and root.find_ancestor(exp.Subquery) is not \
                    col.find_ancestor(exp.Subquery):
                continue  # inside a subquery of this expression: traced through the subquery's scope
            ctx = context_of(col, root)
            for src, t in self.column(scope, col).items():
                merge(out, src, combine(ctx, t))
        return out

    def column(self, scope: Scope, col: exp.Column) -> Sources:
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
                return self._lateral_alias(scope, col)
        if isinstance(source, exp.Table):
            return {Source(table_name(source), name): IDENTITY}
        if isinstance(source, Scope):
            key = (id(source), name.lower())
            if key in self.cache:
                return self.cache[key]
            self.cache[key] = {}  # a column defined through itself (recursive CTE) ends here
            result: Sources = {}
            for branch, proj in _projection(source, name):
                for src, t in self.expression(branch, proj).items():
                    merge(result, src, t)
            self.cache[key] = result
            return result
        return {}

    def _lateral_alias(self, scope: Scope, col: exp.Column) -> Sources:
        """A lateral alias reference (select a+1 as b, b*2 …) resolved against this select's projections."""
        select = scope.expression
        if isinstance(select, exp.Select):
            for p in select.selects:
                if isinstance(p, exp.Alias) and p.alias.lower() == col.name.lower() and p.find(exp.Column) is not col:
                    return self.expression(scope, p)
        return {}


def _lookup(scope: Scope | None, name: str) -> exp.Table | Scope | None:
    """A source by name, from this scope outwards (a union branch sees the CTEs of the WITH around the union)."""
    while scope is not None:
        found = scope.sources.get(name)
        if found is not None:
            return found  # type: ignore[no-any-return]
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


def output_names(query: exp.Expr, dialect: str) -> list[str]:
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


def query_lineage_of(query: exp.Expr, draft: Draft, catalog: Catalog, dialect: str,
                     target_columns: list[str] | None) -> None:
    """Names as written first, then qualify (which rewrites the tree in place), then trace."""
    names = output_names(query, dialect)
    query_lineage(qualify(query, catalog, dialect), draft, target_columns, names)


def query_lineage(query: exp.Expr, draft: Draft, target_columns: list[str] | None = None,
                  written_names: list[str] | None = None) -> None:
    """Fill ``draft`` with the inputs, column lineage and dataset-wide dependencies of a query.

    ``target_columns`` (an INSERT/CREATE column list) name the outputs by position; ``written_names`` (the
    projections as written, before ``*`` expansion) only when they still line up one to one.
    """
    root = build_scope(query)
    if root is None:
        return
    tracer = _Tracer()
    scopes = _reachable(root)
    for s in scopes:
        for _, src in s.selected_sources.values():
            if isinstance(src, exp.Table) and table_name(src) not in draft.inputs:
                draft.inputs.append(table_name(src))
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
                    merge(lineage.sources, source, t)
        draft.columns.append(lineage)
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
                        merge(draft.dataset, source, Transformation("INDIRECT", subtype))
