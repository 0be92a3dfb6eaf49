"""Run Redshift SQL on PostgreSQL, with OpenLineage events named as Redshift Serverless names them.

Each statement is parsed with sqlglot (Redshift dialect) and translated to PostgreSQL: DISTKEY/SORTKEY/DISTSTYLE/
ENCODE/BACKUP are dropped, functions mapped (GETDATE, NVL, DATEADD…). ``COPY … FROM 's3://…'`` loads from the local
lake (``lake/bucket/key``; CSV with IGNOREHEADER/DELIMITER, JSON lines, Parquet); ``UNLOAD`` writes the lake.
Every statement that moves data becomes one OpenLineage run (START, COMPLETE or FAIL) with the ``sql`` job facet,
schemas read from the live catalog and column lineage from ``sql.lineage``.

Datasets: namespace ``redshift://{workgroup}.{account}.{region}.redshift-serverless.amazonaws.com:5439``, name
``{database}.{schema}.{table}``; COPY sources ``s3://bucket`` + key — so DataZone gives them the Redshift ARNs.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from openlineage.client import event_v2 as ev
from psycopg import sql as pgsql
from sqlglot import exp

from lineagelab import profile
from lineagelab.events import build, naming
from lineagelab.sql.lineage import Statement, analyze
from lineagelab.sql.redshift_columns import is_key_attribute

DATA_KINDS = {"COPY", "CTAS", "CREATE_VIEW", "INSERT", "SELECT_INTO", "UNLOAD", "MERGE", "UPDATE", "DELETE",
              "ALTER_APPEND", "ALTER_RENAME"}
_DROP_PROPS = (exp.DistKeyProperty, exp.SortKeyProperty, exp.DistStyleProperty, exp.BackupProperty)


@dataclass
class Target:
    """Where the local Redshift stands in (PostgreSQL) and the AWS names it answers to."""

    workgroup: str = "default-workgroup"
    account: str = "123456789012"
    region: str = "us-west-2"
    database: str = "dev"
    dsn: str = "postgresql://postgres@127.0.0.1:5432/{database}"
    lake: Path = Path(".lineagelab/lake")
    schema: str = "public"
    pg_database: str | None = None  # the PostgreSQL database standing in (default: the Redshift database's name)

    @property
    def namespace(self) -> str:
        return naming.redshift_serverless(self.workgroup, self.account, self.region, "x", "y", "z")[0]

    @property
    def local_database(self) -> str:
        return self.pg_database or self.database

    def conninfo(self) -> str:
        return self.dsn.format(database=self.local_database)


class StatementFailed(Exception):
    def __init__(self, stmt: Statement, message: str):
        super().__init__(f"statement {stmt.index + 1} (line {stmt.line}): {message}")
        self.stmt = stmt


@dataclass
class RunReport:
    statements: int = 0
    executed: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def ensure_database(target: Target) -> None:
    """Create the PostgreSQL database standing in for the Redshift database, if missing."""
    admin = target.dsn.format(database="postgres")
    with psycopg.connect(admin, autocommit=True) as con:
        exists = con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [target.local_database]).fetchone()
        if not exists:
            con.execute(pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(target.local_database)))


# -- translation ------------------------------------------------------------------------------------------------
def to_postgres(expression: exp.Expr) -> str:
    """The PostgreSQL text of a parsed Redshift statement, without what PostgreSQL lacks."""
    e = expression.copy()
    for prop in list(e.find_all(*_DROP_PROPS)):
        prop.pop()
    for constraint in list(e.find_all(exp.ColumnConstraint)):
        if isinstance(constraint.args.get("kind"), exp.EncodeColumnConstraint) or is_key_attribute(constraint):
            constraint.pop()
    for enc in list(e.find_all(exp.EncodeColumnConstraint)):
        enc.pop()
    return e.sql(dialect="postgres")


def qualify_name(name: str, target: Target) -> tuple[str, str, str]:
    parts = [p.strip('"') for p in name.split(".")]
    if len(parts) == 1:
        return target.database, target.schema, parts[0].lower()
    if len(parts) == 2:
        return target.database, parts[0].lower(), parts[1].lower()
    return parts[-3].lower(), parts[-2].lower(), parts[-1].lower()


def dataset_of(name: str, target: Target) -> tuple[str, str]:
    if name.startswith("s3://"):
        return naming.s3(name)
    db, schema, table = qualify_name(name, target)
    return naming.redshift_serverless(target.workgroup, target.account, target.region, db, schema, table)


def lake_path(target: Target, uri: str) -> Path:
    return profile.lake_path(target.lake, uri)


# -- COPY and UNLOAD --------------------------------------------------------------------------------------------
def _copy_words(copy: exp.Copy) -> list[str]:
    """COPY's options as the words written (sqlglot pairs Redshift's options loosely, so re-read them flat)."""
    words: list[str] = []
    for p in copy.args.get("params") or []:
        for part in (p.this, p.args.get("expression"), *(p.expressions or [])):
            if isinstance(part, exp.Expr) and part.name != "":
                words.append(part.name)
    return words


def _copy_options(copy: exp.Copy) -> dict[str, Any]:
    words = [w for w in _copy_words(copy) if w.upper() != "AS"]
    upper = [w.upper() for w in words]
    opts: dict[str, Any] = {"format": None, "ignoreheader": 0, "delimiter": None}
    for i, w in enumerate(upper):
        nxt = words[i + 1] if i + 1 < len(words) else None
        if w in ("CSV", "PARQUET", "JSON"):
            opts["format"] = w
        elif w == "FORMAT" and nxt:
            opts["format"] = nxt.upper()
        elif w == "IGNOREHEADER" and nxt and nxt.isdigit():
            opts["ignoreheader"] = int(nxt)
        elif w == "DELIMITER" and nxt:
            opts["delimiter"] = nxt
    return opts


def _data_file(f: Path, root: Path) -> bool:
    """What a COPY of a prefix loads: not Spark's ``_SUCCESS`` or ``.crc`` files, nothing hidden, nothing empty."""
    rel = f.relative_to(root).parts if f.is_relative_to(root) else (f.name,)
    return f.is_file() and not any(p.startswith(("_", ".")) for p in rel) and not f.name.endswith(".crc") \
        and f.stat().st_size > 0


def _lake_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if _data_file(p, path))
    # S3 COPY takes a key prefix: every object whose key starts with it
    parent = path.parent
    if not parent.is_dir():
        return []
    found = [f for m in parent.glob(path.name + "*") for f in ([m] if m.is_file() else m.rglob("*"))]
    return sorted(f for f in found if _data_file(f, parent))


def _manifest_files(stmt: Statement, target: Target) -> list[str] | None:
    """The ``url`` entries of a MANIFEST COPY (None when COPY reads a prefix)."""
    assert isinstance(stmt.expression, exp.Copy) and stmt.copy_from
    if "MANIFEST" not in (w.upper() for w in _copy_words(stmt.expression)):
        return None
    path = lake_path(target, stmt.copy_from)
    try:
        entries = orjson.loads(path.read_bytes())["entries"]
        urls = [str(e["url"]) for e in entries]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StatementFailed(stmt, f"COPY manifest {stmt.copy_from} is not readable: {exc}") from exc
    for e, url in zip(entries, urls, strict=True):
        if e.get("mandatory") and not lake_path(target, url).is_file():
            raise StatementFailed(stmt, f"COPY manifest {stmt.copy_from}: mandatory file {url} is not in the lake")
    return urls


def copy_files(stmt: Statement, target: Target) -> list[Path]:
    """The files a COPY loads: a manifest's entries, else the data files under its prefix."""
    assert stmt.copy_from
    urls = _manifest_files(stmt, target)
    if urls is not None:
        return [p for u in urls if (p := lake_path(target, u)).is_file()]
    return _lake_files(lake_path(target, stmt.copy_from))


def _folder(uri: str) -> str:
    """``s3://b/out/part-`` -> ``s3://b/out/``: the folder a key prefix ends in."""
    return uri if uri.endswith("/") else uri.rsplit("/", 1)[0] + "/"


def copy_source(stmt: Statement, target: Target) -> tuple[str, str]:
    """The dataset a COPY reads, named as the Spark write that produced it names it: the folder of its files
    (a prefix that is a folder, the folder a partial key prefix or a manifest's entries sit in), or one file."""
    assert isinstance(stmt.expression, exp.Copy) and stmt.copy_from
    uri = stmt.copy_from
    try:
        urls = _manifest_files(stmt, target)
    except StatementFailed:
        urls = None
    if urls:
        folders = {_folder(u) for u in urls}
        return naming.s3(folders.pop() if len(folders) == 1 else os.path.commonpath(list(folders)) + "/")
    path = lake_path(target, uri)
    if uri.endswith("/") or path.is_dir() or path.is_file():
        return naming.s3(uri)
    return naming.s3(_folder(uri))


def copy_header(stmt: Statement, target: Target) -> list[str]:
    """The source file's own column names, in order: a Parquet schema, or a CSV header row COPY skips."""
    if not isinstance(stmt.expression, exp.Copy) or not stmt.copy_from:
        return []
    opts = _copy_options(stmt.expression)
    files = copy_files(stmt, target)
    if not files:
        return []
    if opts["format"] == "PARQUET":
        import pyarrow.parquet as pq

        return list(pq.read_schema(files[0]).names)
    if (opts["format"] or "CSV") != "CSV" or not opts["ignoreheader"]:
        return []
    with files[0].open(newline="") as fh:
        return next(csv.reader(fh, delimiter=opts["delimiter"] or ","), [])


def run_copy(con: psycopg.Connection[Any], stmt: Statement, target: Target) -> int:
    assert isinstance(stmt.expression, exp.Copy) and stmt.copy_from
    _, schema, table = qualify_name(stmt.outputs[0], target)
    files = copy_files(stmt, target)
    if not files:
        raise StatementFailed(stmt, f"COPY source {stmt.copy_from} has no objects in the lake "
                                    f"({lake_path(target, stmt.copy_from)}); put them with `lineagelab lake put`")
    opts = _copy_options(stmt.expression)
    columns = [c.target for c in stmt.columns] or None
    ident = pgsql.Identifier(schema, table)
    col_sql = (pgsql.SQL("({})").format(pgsql.SQL(", ").join(map(pgsql.Identifier, columns))) if columns
               else pgsql.SQL(""))
    rows = 0
    fmt = (opts.get("format") or "CSV").upper()
    delimiter = opts.get("delimiter") or ("," if fmt == "CSV" else "|")
    for f in files:
        if fmt == "PARQUET":
            import pyarrow.csv as pacsv
            import pyarrow.parquet as pq

            buf = io.BytesIO()
            pacsv.write_csv(pq.read_table(f), buf, pacsv.WriteOptions(include_header=False))
            data, skip, delim = buf.getvalue(), 0, ","
        elif fmt == "JSON":
            lines = [orjson.loads(x) for x in f.read_bytes().splitlines() if x.strip()]
            out = io.StringIO()
            w = csv.writer(out)
            names = columns or [c[0] for c in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
                "ORDER BY ordinal_position", [schema, table]).fetchall()]
            for obj in lines:
                w.writerow([obj.get(n, obj.get(n.lower())) for n in names])
            data, skip, delim = out.getvalue().encode(), 0, ","
        else:
            data, skip, delim = f.read_bytes(), int(opts.get("ignoreheader") or 0), delimiter
        if skip:
            data = b"\n".join(data.split(b"\n")[skip:])
        copy_sql = pgsql.SQL("COPY {} {} FROM STDIN WITH (FORMAT csv, DELIMITER {})").format(
            ident, col_sql, pgsql.Literal(delim))
        with con.cursor() as cur:
            with cur.copy(copy_sql) as cp:
                cp.write(data)
            rows += max(cur.rowcount, 0)
    return rows


def run_unload(con: psycopg.Connection[Any], stmt: Statement, target: Target, dialect: str) -> int:
    import sqlglot

    assert stmt.unload_to is not None
    inner = _unload_query(stmt.sql)
    query = to_postgres(sqlglot.parse_one(inner, read=dialect))
    with con.cursor() as cur:
        cur.execute(query)
        names = [d.name for d in cur.description or []]
        rows = cur.fetchall()
    dest = lake_path(target, stmt.unload_to)
    # TO 's3://b/out/' writes out/0000_part_00; TO 's3://b/out/u_' writes out/u_0000_part_00
    out = dest / "0000_part_00" if stmt.unload_to.endswith("/") else dest.parent / f"{dest.name}0000_part_00"
    out.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    w = csv.writer(buf, delimiter="|")
    for r in rows:
        w.writerow(r)
    out.write_text(buf.getvalue())
    del names
    return len(rows)


def _unload_query(text: str) -> str:
    import sqlglot

    tokens = sqlglot.Dialect.get_or_raise("redshift").tokenize(text)
    if len(tokens) == 2:
        tokens = [tokens[0], *sqlglot.Dialect.get_or_raise("redshift").tokenize(tokens[1].text)]
    strings = [t.text for t in tokens if t.token_type == sqlglot.TokenType.STRING]
    return strings[0]


# -- lineage events ---------------------------------------------------------------------------------------------
def live_schema(con: psycopg.Connection[Any], name: str, target: Target) -> list[tuple[str, str]]:
    _, schema, table = qualify_name(name, target)
    return [(r[0], r[1]) for r in con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = %s AND table_name = %s "
        "ORDER BY ordinal_position", [schema, table]).fetchall()]


def live_catalog(con: psycopg.Connection[Any]) -> dict[str, Any]:
    """{schema: {table: {column: type}}} of the user's tables, so ``*`` expands as the database would."""
    cat: dict[str, Any] = {}
    for schema, table, column, typ in con.execute(
        "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY ordinal_position"
    ).fetchall():
        cat.setdefault(schema, {}).setdefault(table, {})[column] = typ
    return cat


def job_name(stmt: Statement, target: Target) -> str:
    subject = stmt.target or (stmt.inputs[0] if stmt.inputs else f"statement_{stmt.index + 1}")
    if subject.startswith("s3://"):
        ns, key = naming.s3(subject)
        parts = [ns.removeprefix("s3://"), key]
    else:
        parts = list(qualify_name(subject, target))
    safe = "_".join(p.replace("/", "_").replace("-", "_").replace(".", "_").strip("_") for p in parts)
    return f"{stmt.kind.lower()}_{safe}"


def run_id_for(key: str) -> str:
    """Deterministic run ids: re-importing the same statement log gives the same events (stored once)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"lineagelab-redshift/{key}"))


def statement_events(
    con: psycopg.Connection[Any] | None, stmt: Statement, target: Target, started: datetime, ended: datetime,
    run_key: str, error: str | None = None, rows: int | None = None,
) -> list[dict[str, Any]]:
    """START and COMPLETE (or FAIL) of one data-moving statement."""
    def fields(name: str) -> list[tuple[str, str]]:
        if name.startswith("s3://") or con is None:
            return []
        try:
            return live_schema(con, name, target)
        except psycopg.Error:
            return []

    def named(name: str) -> tuple[str, str]:
        """S3 sides are named as Spark names them, so Glue -> S3 -> Redshift (and back) is one graph."""
        if stmt.kind == "COPY" and name == stmt.copy_from and isinstance(stmt.expression, exp.Copy):
            return copy_source(stmt, target)
        if stmt.kind == "UNLOAD" and name == stmt.unload_to:
            return naming.s3(_folder(name))
        return dataset_of(name, target)

    inputs = []
    for name in stmt.inputs:
        ns, nm = named(name)
        facets: dict[str, Any] = {"dataSource": build.datasource(ns)}
        if f := fields(name):
            facets["schema"] = build.schema(f)
        inputs.append(ev.InputDataset(namespace=ns, name=nm, facets=facets))
    outputs = []
    for name in stmt.outputs:
        ns, nm = named(name)
        facets = {"dataSource": build.datasource(ns)}
        if f := fields(name):
            facets["schema"] = build.schema(f)
        lineage = {
            cl.target: [(*dataset_of(src.table, target), src.column, t[0], t[1], None)
                        for src, t in sorted(cl.sources.items())]
            for cl in stmt.columns if cl.sources
        }
        if stmt.kind == "COPY" and stmt.copy_from:
            src_ns, src_nm = copy_source(stmt, target)
            cols = [c for c, _ in fields(name)] if not stmt.columns else [c.target for c in stmt.columns]
            # COPY loads a file's columns by position: a CSV header names them, else the target's names stand in
            header = copy_header(stmt, target)
            lineage = {c: [(src_ns, src_nm, header[i] if i < len(header) else c, "DIRECT", "IDENTITY", None)]
                       for i, c in enumerate(cols)}
        dataset_deps = [(*dataset_of(src.table, target), src.column, t[0], t[1], None)
                        for src, t in sorted(stmt.dataset.items())]
        if lineage or dataset_deps:
            facets["columnLineage"] = build.column_lineage(lineage, dataset_deps)
        if stmt.kind in ("CTAS", "CREATE_VIEW", "SELECT_INTO"):
            facets["lifecycleStateChange"] = build.lifecycle("CREATE")
        elif stmt.kind == "ALTER_RENAME":
            facets["lifecycleStateChange"] = build.lifecycle("RENAME")
        out_facets = {"outputStatistics": build.output_statistics(rows)} if rows is not None and error is None else {}
        outputs.append(ev.OutputDataset(namespace=ns, name=nm, facets=facets, outputFacets=out_facets))
    run_id = run_id_for(run_key)
    job_facets = {"sql": build.sql(stmt.sql, "redshift"), "jobType": build.job_type("BATCH", "REDSHIFT", "QUERY")}
    name = job_name(stmt, target)
    end_type = "FAIL" if error else "COMPLETE"
    run_facets = {"errorMessage": build.error_message(error, "SQL")} if error else {}
    return [
        build.to_dict(build.run_event("START", started.isoformat().replace("+00:00", "Z"), run_id, target.namespace,
                                      name, inputs=inputs, outputs=outputs, job_facets=job_facets)),
        build.to_dict(build.run_event(end_type, ended.isoformat().replace("+00:00", "Z"), run_id, target.namespace,
                                      name, inputs=inputs, outputs=outputs, job_facets=job_facets,
                                      run_facets=run_facets)),
    ]


# -- the runner -------------------------------------------------------------------------------------------------
def substitute(sql: str, target: Target) -> str:
    """The seed writes ``{account_id}`` where users put their account: fill it from the target."""
    return sql.replace("{account_id}", target.account)


def run_script(sql: str, target: Target, *, continue_on_error: bool = False, log: Path | None = None,
               source: str = "<sql>") -> RunReport:
    """Execute every statement on PostgreSQL and return the lineage events of those that move data."""
    ensure_database(target)
    report = RunReport()
    with psycopg.connect(target.conninfo(), autocommit=True) as con:
        text = substitute(sql, target)
        stmts = analyze(text, "redshift")
        report.statements = len(stmts)
        for stmt in stmts:
            if stmt.error:
                report.errors.append(f"{source}: {stmt.error}")
                if not continue_on_error:
                    break
                continue
            if stmt.kind in DATA_KINDS and stmt.kind not in ("COPY", "UNLOAD"):
                # re-analyze with the live catalog so * expands to the real columns
                stmt = _reanalyze(stmt, live_catalog(con))
            started = datetime.now(UTC)
            rows: int | None = None
            error: str | None = None
            try:
                if stmt.kind == "COPY":
                    rows = run_copy(con, stmt, target)
                elif stmt.kind == "UNLOAD":
                    rows = run_unload(con, stmt, target, "redshift")
                else:
                    assert stmt.expression is not None
                    with con.cursor() as cur:
                        cur.execute(_postgres_text(stmt))
                        rows = cur.rowcount if cur.rowcount >= 0 else None
                report.executed += 1
            except (psycopg.Error, StatementFailed, OSError) as exc:
                message = exc.diag.message_primary if isinstance(exc, psycopg.Error) and exc.diag.message_primary \
                    else str(exc)
                error = message
                report.errors.append(f"{source}: statement {stmt.index + 1} (line {stmt.line}): {message}")
            ended = datetime.now(UTC)
            key = f"{target.namespace}/{target.database}/{started.isoformat()}/{stmt.index}/{stmt.sql}"
            if stmt.kind in DATA_KINDS:
                report.events += statement_events(con, stmt, target, started, ended, key, error, rows)
            if log is not None:
                _log(log, stmt, target, started, ended, key, error, rows)
            if error and not continue_on_error:
                break
    return report


def _postgres_text(stmt: Statement) -> str:
    assert stmt.expression is not None
    if stmt.kind == "ALTER_APPEND":
        target, source = stmt.outputs[0], stmt.inputs[0]
        return f"INSERT INTO {target} SELECT * FROM {source}; TRUNCATE {source}"
    import sqlglot

    # parsed again: lineage analysis rewrites its tree (qualification), execution wants the statement as written
    return to_postgres(sqlglot.parse_one(stmt.sql, read="redshift"))


def _reanalyze(stmt: Statement, catalog: dict[str, Any]) -> Statement:
    from lineagelab.sql.lineage import analyze_statement

    fresh = analyze_statement(stmt.index, stmt.line, stmt.sql, "redshift", catalog)
    return fresh if not fresh.error else stmt


def _log(path: Path, stmt: Statement, target: Target, started: datetime, ended: datetime, key: str,
         error: str | None, rows: int | None) -> None:
    """The runner's statement log (what Redshift's SYS_QUERY_HISTORY would hold); ``import-lineage`` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = {"key": key, "sql": stmt.sql, "index": stmt.index, "line": stmt.line, "started": started.isoformat(),
             "ended": ended.isoformat(), "error": error, "rows": rows, "workgroup": target.workgroup,
             "account": target.account, "region": target.region, "database": target.database}
    with path.open("ab") as fh:
        fh.write(orjson.dumps(entry) + b"\n")


def import_lineage(log: Path, target: Target) -> Iterator[dict[str, Any]]:
    """The events of the statements the local Redshift executed, from the runner's statement log — as DataZone's
    "Import data lineage" reads Redshift's query history. Same run ids as at run time, so nothing doubles."""
    from lineagelab.sql.lineage import analyze_statement

    if not log.exists():
        return
    with psycopg.connect(target.conninfo(), autocommit=True) as con:
        catalog = live_catalog(con)
        for line in log.read_bytes().splitlines():
            e = orjson.loads(line)
            if (e["workgroup"], e["database"]) != (target.workgroup, target.database):
                continue
            stmt = analyze_statement(e["index"], e["line"], e["sql"], "redshift", catalog)
            if stmt.error or stmt.kind not in DATA_KINDS:
                continue
            if stmt.kind in ("COPY", "UNLOAD"):
                stmt = analyze_statement(e["index"], e["line"], e["sql"], "redshift", None)
            yield from statement_events(con, stmt, target, datetime.fromisoformat(e["started"]),
                                        datetime.fromisoformat(e["ended"]), e["key"], e["error"], e["rows"])
