"""One handler per statement kind, looked up by the parsed expression's type (``HANDLERS``).

Each fills a ``Draft``: its kind, the tables it reads and writes, and its columns' lineage. DELETE/TRUNCATE/DROP
make their table an output; ALTER TABLE RENAME reads the old name and writes the new one; INSERT column lists map
by position. A type without a handler keeps its sqlglot name as its kind and has no lineage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from lineagelab.sql.catalog import columns_of, qualify
from lineagelab.sql.columns import context_of, query_lineage, query_lineage_of, table_name
from lineagelab.sql.model import Catalog, ColumnLineage, Draft, Source, Sources, Subtype, Transformation, combine, merge


@dataclass(frozen=True)
class Context:
    """What a handler reads besides the statement: the catalog and the dialect."""

    catalog: Catalog
    dialect: str


Handler = Callable[[exp.Expr, Draft, Context], None]


def _schema_columns(t: exp.Expr) -> tuple[exp.Table | None, list[str] | None]:
    """The table of ``t (a, b)`` or ``t``, and its column list if written."""
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


# -- CREATE, INSERT, SELECT -------------------------------------------------------------------------------------
def _create(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    table, cols = _schema_columns(parsed.this)
    if table is not None:
        draft.outputs.append(table_name(table))
    kind = str(parsed.args.get("kind") or "TABLE").upper()
    query = _query_of(parsed)
    like = parsed.find(exp.LikeProperty)
    clone = parsed.args.get("clone")
    if query is not None:
        draft.kind = "CREATE_VIEW" if kind == "VIEW" else "CTAS"
        query_lineage_of(query, draft, ctx.catalog, ctx.dialect, cols)
    elif like is not None and isinstance(like.this, exp.Table):
        draft.kind = "CREATE_LIKE"
        draft.inputs.append(table_name(like.this))
    elif isinstance(clone, exp.Clone) and isinstance(clone.this, exp.Table):
        draft.kind = "CREATE_CLONE"
        draft.inputs.append(table_name(clone.this))
    else:
        draft.kind = f"CREATE_{kind}"


def _insert(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "INSERT"
    table, cols = _schema_columns(parsed.this)
    if table is not None:
        draft.outputs.append(table_name(table))
    query = _query_of(parsed)
    if query is not None:
        if cols is None and ctx.catalog and table is not None:
            cols = columns_of(ctx.catalog, table_name(table))  # no column list: the table's columns, in order
        query_lineage_of(query, draft, ctx.catalog, ctx.dialect, cols)


def _query(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    into = parsed.find(exp.Into)
    if into is not None and into.find_ancestor(exp.Subquery) is None:
        draft.kind = "SELECT_INTO"
        q = parsed.copy()
        for node in list(q.find_all(exp.Into)):
            node.pop()
        draft.outputs.append(table_name(into.this))
        query_lineage(qualify(q, ctx.catalog, ctx.dialect), draft)
    else:
        draft.kind = "SELECT"
        query_lineage_of(parsed, draft, ctx.catalog, ctx.dialect, None)


# -- COPY, MERGE, UPDATE ----------------------------------------------------------------------------------------
def _copy(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "COPY"
    target, cols = _schema_columns(parsed.this)
    if target is not None:
        draft.outputs.append(table_name(target))
    files = parsed.args.get("files") or []
    if files and isinstance(files[0], exp.Literal):
        draft.copy_from = files[0].name
        draft.inputs.append(files[0].name)
    if cols:
        draft.columns = [ColumnLineage(c) for c in cols]


def _condition(draft: Draft, condition: exp.Expr | None, alias_map: Mapping[str, str], default: str,
               subtype: Subtype) -> None:
    """A MERGE's ON or an UPDATE's WHERE: the source columns it reads are dataset-wide INDIRECT dependencies."""
    if condition is None:
        return
    for col in condition.find_all(exp.Column):
        tbl = alias_map.get(col.table.lower(), default) if col.table else default
        if tbl != draft.outputs[0]:
            merge(draft.dataset, Source(tbl, col.name), Transformation("INDIRECT", subtype))


def _sub_lineage(body: exp.Expr, ctx: Context) -> tuple[Draft, dict[str, Sources]]:
    """Lineage of a subquery or CTE body an UPDATE/MERGE reads from: its inputs, and its columns' sources by name."""
    sub = Draft("")
    query_lineage(qualify(body, ctx.catalog, ctx.dialect), sub)
    return sub, {c.target.lower(): c.sources for c in sub.columns}


def _merge(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "MERGE"
    target = parsed.this
    source = parsed.args.get("using")
    if isinstance(target, exp.Table):
        draft.outputs.append(table_name(target))
    alias_map: dict[str, str] = {}
    for t in (target, source):
        if isinstance(t, exp.Table):
            alias_map[(t.alias or t.name).lower()] = table_name(t)
    through: dict[str, Sources] = {}
    if isinstance(source, exp.Table):
        draft.inputs.append(table_name(source))
        src_name = table_name(source)
    elif isinstance(source, exp.Subquery):
        sub, through = _sub_lineage(source.this, ctx)
        draft.inputs += [i for i in sub.inputs if i not in draft.inputs]
        src_name = source.alias or "source"
        alias_map[src_name.lower()] = src_name
    else:
        return
    target_alias = (target.alias or target.name).lower() if isinstance(target, exp.Table) else ""
    derived = isinstance(source, exp.Subquery)

    def sources(e: exp.Expr) -> Sources:
        out: Sources = {}
        for col in e.find_all(exp.Column):
            tbl = alias_map.get(col.table.lower(), src_name) if col.table else src_name
            if col.table.lower() == target_alias:
                tbl = draft.outputs[0]
            how = context_of(col, e)
            if derived and tbl == src_name and col.name.lower() in through:
                for s, t in through[col.name.lower()].items():  # through the subquery to its tables
                    merge(out, s, combine(how, t))
            else:
                out[Source(tbl, col.name)] = how
        return out

    by_target: dict[str, ColumnLineage] = {}
    for when in (parsed.args.get("whens") or exp.Whens()).expressions:
        then = when.args.get("then")
        if isinstance(then, exp.Update):
            for eq in then.expressions:
                if isinstance(eq, exp.EQ):
                    cl = by_target.setdefault(eq.this.name, ColumnLineage(eq.this.name))
                    for s, t in sources(eq.expression).items():
                        merge(cl.sources, s, t)
        elif isinstance(then, exp.Insert):
            cols = [c.name for c in (then.this.expressions if isinstance(then.this, exp.Tuple) else [])]
            vals = then.expression.expressions if isinstance(then.expression, exp.Tuple) else []
            for c, v in zip(cols, vals, strict=False):
                cl = by_target.setdefault(c, ColumnLineage(c))
                for s, t in sources(v).items():
                    merge(cl.sources, s, t)
    draft.columns = list(by_target.values())
    _condition(draft, parsed.args.get("on"), alias_map, src_name, "JOIN")


def _update(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "UPDATE"
    target = parsed.this
    if not isinstance(target, exp.Table):
        return
    draft.outputs.append(table_name(target))
    alias_map = {(target.alias or target.name).lower(): table_name(target)}
    from_ = parsed.args.get("from_") or parsed.args.get("from")
    tables = [t for t in from_.find_all(exp.Table) if t.find_ancestor(exp.Subquery) is None] if from_ else []
    for t in tables:
        alias_map[(t.alias or t.name).lower()] = table_name(t)
        draft.inputs.append(table_name(t))
    derived = {s.alias.lower(): s.this for s in (from_.find_all(exp.Subquery) if from_ else [])
               if s.alias and isinstance(s.this, exp.Query)}
    ctes = {c.alias_or_name.lower(): c.this for c in parsed.find_all(exp.CTE)}
    through: dict[str, dict[str, Sources]] = {}
    for name, body in derived.items():
        sub, through[name] = _sub_lineage(body, ctx)
        alias_map[name] = name
        draft.inputs += [i for i in sub.inputs if i not in draft.inputs]
    for name, body in ctes.items():
        sub, through[name] = _sub_lineage(body, ctx)
        if name in [i.lower() for i in draft.inputs]:  # a CTE read in FROM stands for the tables it reads
            draft.inputs = [i for i in draft.inputs if i.lower() != name] + [i for i in sub.inputs
                                                                             if i not in draft.inputs]
    default = table_name(tables[0]) if len(tables) == 1 else table_name(target)
    for eq in parsed.expressions:
        if not isinstance(eq, exp.EQ):
            continue
        cl = ColumnLineage(eq.this.name)
        for col in eq.expression.find_all(exp.Column):
            tbl = alias_map.get(col.table.lower(), default) if col.table else default
            how = context_of(col, eq.expression)
            via = through.get(tbl.lower(), {}).get(col.name.lower())
            if via is not None:
                for src, t in via.items():
                    merge(cl.sources, src, combine(how, t))
            else:
                merge(cl.sources, Source(tbl, col.name), how)
        draft.columns.append(cl)
    _condition(draft, parsed.args.get("where"), alias_map, default, "FILTER")


# -- DELETE, ALTER, TRUNCATE, DROP ------------------------------------------------------------------------------
def _delete(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "DELETE"
    if isinstance(parsed.this, exp.Table):
        draft.outputs.append(table_name(parsed.this))
    for t in parsed.args.get("using") or []:
        if isinstance(t, exp.Table):
            draft.inputs.append(table_name(t))


def _alter(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    old = parsed.this
    rename = next((a for a in parsed.args.get("actions") or [] if isinstance(a, exp.AlterRename)), None)
    if rename is None or not isinstance(old, exp.Table):
        draft.kind = "ALTER"
        if isinstance(old, exp.Table):
            draft.outputs.append(table_name(old))
        return
    draft.kind = "ALTER_RENAME"
    new_name = table_name(rename.this)
    if "." not in new_name and old.args.get("db"):
        new_name = f"{old.args['db'].name}.{new_name}"  # RENAME TO keeps the schema
    draft.inputs.append(table_name(old))
    draft.outputs.append(new_name)


def _truncate(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "TRUNCATE"
    draft.outputs += [table_name(t) for t in parsed.expressions if isinstance(t, exp.Table)]


def _drop(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    draft.kind = "DROP"
    for t in [parsed.this, *(parsed.expressions or []), *(parsed.args.get("tables") or [])]:
        if isinstance(t, exp.Table) and table_name(t) not in draft.outputs:
            draft.outputs.append(table_name(t))


# -- commands ---------------------------------------------------------------------------------------------------
def _command(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
    """Statements sqlglot keeps as commands: Redshift's UNLOAD and ALTER TABLE APPEND.

    The command's pieces come from sqlglot's tokens; the inner query of UNLOAD is parsed with sqlglot again.
    """
    dialect_obj = sqlglot.Dialect.get_or_raise(ctx.dialect)
    tokens = dialect_obj.tokenize(draft.sql)
    if len(tokens) == 2 and tokens[0].token_type == sqlglot.TokenType.COMMAND:
        tokens = [tokens[0], *dialect_obj.tokenize(tokens[1].text)]  # the rest of a command is one string token
    words = [t.text.upper() for t in tokens]
    if words[:1] == ["UNLOAD"]:
        strings = [t.text for t in tokens if t.token_type == sqlglot.TokenType.STRING]
        if len(strings) >= 2:
            draft.kind = "UNLOAD"
            draft.unload_to = strings[1]
            draft.outputs.append(strings[1])
            inner = sqlglot.parse_one(strings[0], read=ctx.dialect)
            query_lineage(qualify(inner, ctx.catalog, ctx.dialect), draft)
    elif words[:2] == ["ALTER", "TABLE"] and "APPEND" in words:
        i = words.index("APPEND")
        target = "".join(t.text for t in tokens[2:i])
        source = "".join(t.text for t in tokens[i + 2 :] if t.text.upper() not in ("IGNOREEXTRA", "FILLTARGET"))
        draft.kind = "ALTER_APPEND"
        draft.inputs.append(source)
        draft.outputs.append(target)


def _reading_subqueries(handler: Handler) -> Handler:
    """A DML statement also reads the tables of subqueries anywhere in it (VALUES ((SELECT …)),
    SET x = (SELECT …), WHERE … IN (SELECT …)), besides those its handler names."""
    def handle(parsed: exp.Expr, draft: Draft, ctx: Context) -> None:
        handler(parsed, draft, ctx)
        ctes = {c.alias_or_name.lower() for c in parsed.find_all(exp.CTE)}
        for t in parsed.find_all(exp.Table):
            name = table_name(t)
            if (t.find_ancestor(exp.Subquery, exp.Select) is not None and t.find_ancestor(exp.CTE) is None
                    and name not in draft.outputs and name not in draft.inputs and name.lower() not in ctes):
                draft.inputs.append(name)

    return handle


#: Statement handlers by expression type; ``handler_for`` also finds a subclass's (every Query is ``_query``'s).
HANDLERS: dict[type[exp.Expr], Handler] = {
    exp.Create: _create,
    exp.Insert: _reading_subqueries(_insert),
    exp.Query: _query,
    exp.Copy: _copy,
    exp.Merge: _reading_subqueries(_merge),
    exp.Update: _reading_subqueries(_update),
    exp.Delete: _reading_subqueries(_delete),
    exp.Alter: _alter,
    exp.TruncateTable: _truncate,
    exp.Drop: _drop,
    exp.Command: _command,
}


def handler_for(expression: exp.Expr) -> Handler | None:
    """The handler of the expression's type or of its nearest base class that has one."""
    for cls in type(expression).__mro__:
        handler = HANDLERS.get(cls)
        if handler is not None:
            return handler
    return None
