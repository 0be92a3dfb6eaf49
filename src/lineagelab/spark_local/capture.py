"""OpenLineage capture from a local SparkSession's own plans, without the openlineage-spark JAR.

A Python ``QueryExecutionListener`` (through py4j's callback server) sees every finished or failed action. Read-only
actions are dropped at once; a write is read off its analyzed plan: the plan's JSON for column lineage (``plan``), a
few py4j calls for what the JSON leaves out (JDBC URL and table, file paths, catalog tables, write mode, metrics).
The nested executions of one write (``saveAsTable`` runs three) are merged by their output into one run with START
and COMPLETE (or FAIL), as openlineage-spark reports them.

Delivery is asynchronous (Spark's listener bus), so :meth:`SparkCapture.flush` drains the bus; it runs on close and
at interpreter exit, so a script that never calls ``spark.stop()`` loses nothing.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import logging
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from lineagelab.events import naming
from lineagelab.events.sinks import Sink
from lineagelab.spark_local import causes, datasets
from lineagelab.spark_local.plan import PlanLineage, Tx, add_optimized_filters, analyze, has_join, tree
from lineagelab.spark_local.run_events import CaptureConfig, DatasetRef, EventBuilder, Write, scrub

log = logging.getLogger("lineagelab.spark")

# root node of an action -> it writes; everything else (count, collect, show, head, schema inference) is a read
WRITE_COMMANDS = {
    "InsertIntoHadoopFsRelationCommand", "CreateDataSourceTableAsSelectCommand", "SaveAsV1TableCommand",
    "SaveIntoDataSourceCommand", "InsertIntoHiveTable", "CreateHiveTableAsSelectCommand",
    "OptimizedCreateHiveTableAsSelectCommand", "InsertIntoDataSourceCommand", "AppendData", "OverwriteByExpression",
    "OverwritePartitionsDynamic", "CreateTableAsSelect", "ReplaceTableAsSelect", "InsertIntoDataSourceDirCommand",
}
# which node of a merged write names the job (the outermost meaningful one, as openlineage-spark's first START)
_NAMING_RANK = {"CreateDataSourceTableAsSelectCommand": 0, "CreateHiveTableAsSelectCommand": 0,
                "OptimizedCreateHiveTableAsSelectCommand": 0, "SaveIntoDataSourceCommand": 0,
                "CreateTableAsSelect": 0, "ReplaceTableAsSelect": 0, "InsertIntoHiveTable": 1,
                "InsertIntoHadoopFsRelationCommand": 2, "SaveAsV1TableCommand": 3}


# -- reading the JVM -----------------------------------------------------------------------------------------------
def _opt(o: Any) -> Any:
    return o.get() if o is not None and o.isDefined() else None


def _catalog_table(t: Any, cfg: CaptureConfig) -> DatasetRef:
    ident = t.identifier()
    db = _opt(ident.database()) or "default"
    table = ident.table()
    loc = _opt(t.storage().locationUri())
    ns, name = datasets.file_dataset(loc.toString(), cfg.lake) if loc is not None else ("file", f"{db}.{table}")
    ref = DatasetRef(ns, name, table=(db.lower(), table.lower()))
    if cfg.glue_catalog and cfg.account and cfg.region:
        ref.symlink = naming.glue_table(cfg.region, cfg.account, db, table)
    else:
        ref.symlink = ("hive", f"{db}.{table}".lower())
    return ref


def _glue_symlink(ref: DatasetRef, cfg: CaptureConfig) -> None:
    """A JDBC table or S3 folder the awsglue shim reached through the Glue catalog carries that table's symlink."""
    table = cfg.catalog_tables.get((ref.namespace, ref.name))
    if table is not None and ref.symlink is None:
        ref.symlink = naming.glue_table(cfg.region, cfg.account, *table) if cfg.glue_catalog and cfg.account \
            and cfg.region else ("hive", ".".join(table))


def _leaf(leaf: Any, cfg: CaptureConfig) -> list[DatasetRef]:
    cls = leaf.getClass().getSimpleName()
    if cls == "LogicalRelation":
        table = _opt(leaf.catalogTable())
        if table is not None:
            return [_catalog_table(table, cfg)]
        rel = leaf.relation()
        rcls = rel.getClass().getSimpleName()
        if rcls == "JDBCRelation":
            opts = rel.jdbcOptions()
            return _jdbc_refs(opts.url(), opts.tableOrQuery(), cfg)
        if rcls == "HadoopFsRelation":
            paths = rel.location().rootPaths()
            return [DatasetRef(*datasets.file_dataset(paths.apply(i).toString(), cfg.lake))
                    for i in range(paths.size())]
        return []
    if cls == "HiveTableRelation":
        return [_catalog_table(leaf.tableMeta(), cfg)]
    if cls in ("DataSourceV2Relation", "DataSourceV2ScanRelation"):
        name = str(leaf.table().name())
        return [DatasetRef("spark_catalog", name)]
    return []


def _jdbc_refs(url: str, table_or_query: str, cfg: CaptureConfig) -> list[DatasetRef]:
    text = table_or_query.strip()
    if text.startswith("("):  # the `query` option: (SELECT …) SPARK_GEN_SUBQ_n — its tables are the inputs
        sql = re.sub(r"\)\s*\w+\s*$", "", text[1:])
        try:
            import sqlglot
            from sqlglot import exp

            tables = [".".join(p for p in (t.db, t.name) if p) for t in sqlglot.parse_one(sql).find_all(exp.Table)]
        except Exception:  # no parser, or SQL it cannot read: the query stays opaque
            tables = []
        return [DatasetRef(*datasets.jdbc_dataset(url, t, cfg.jdbc_aliases)) for t in dict.fromkeys(tables)]
    return [DatasetRef(*datasets.jdbc_dataset(url, text, cfg.jdbc_aliases))]


def _output(qe: Any, root: Any, node: str, cfg: CaptureConfig) -> tuple[DatasetRef | None, str | None]:
    """The written dataset and the save mode of a write command."""
    mode = None
    with contextlib.suppress(Exception):
        mode = str(root.mode().toString())
    if node == "InsertIntoHadoopFsRelationCommand":
        table = _opt(root.catalogTable())
        if table is not None:
            return _catalog_table(table, cfg), mode
        return DatasetRef(*datasets.file_dataset(root.outputPath().toString(), cfg.lake)), mode
    if node in ("CreateDataSourceTableAsSelectCommand", "CreateHiveTableAsSelectCommand",
                "OptimizedCreateHiveTableAsSelectCommand", "InsertIntoHiveTable"):
        table = root.tableDesc() if node != "CreateDataSourceTableAsSelectCommand" and node != "InsertIntoHiveTable" \
            else root.table()
        ref = _catalog_table(table, cfg)
        if ref.namespace == "file" and ref.name.count(".") == 1:
            # the location is decided while writing: ask the catalog
            ident = table.identifier()
            try:
                meta = qe.sparkSession().sessionState().catalog().getTableMetadata(ident)
                ref = _catalog_table(meta, cfg)
            except Exception:
                pass
        return ref, mode
    if node == "SaveAsV1TableCommand":
        return _catalog_table(root.tableDesc(), cfg), mode
    if node == "SaveIntoDataSourceCommand":
        opts = root.options()
        url, table = _opt(opts.get("url")), _opt(opts.get("dbtable"))
        if url is None or table is None:
            return None, mode
        return DatasetRef(*datasets.jdbc_dataset(str(url), str(table), cfg.jdbc_aliases)), mode
    return None, mode


def _metrics(qe: Any) -> tuple[int | None, int | None, int | None]:
    """numOutputRows / numOutputBytes / numFiles of the executed write, where Spark measured them."""
    try:
        plan = qe.executedPlan()
        for _ in range(12):  # down through adaptive execution and query stages to the writing node
            kind = plan.getClass().getSimpleName()
            if kind == "DataWritingCommandExec":
                break
            if kind == "AdaptiveSparkPlanExec":
                plan = plan.executedPlan()
            elif kind.endswith("QueryStageExec"):
                plan = plan.plan()
            elif plan.children().size() == 1:
                plan = plan.children().apply(0)
            else:
                return None, None, None
        else:
            return None, None, None
        m = plan.cmd().metrics()

        def get(key: str) -> int | None:
            v = _opt(m.get(key))
            return int(v.value()) if v is not None else None

        return get("numOutputRows"), get("numOutputBytes"), get("numFiles")
    except Exception:
        return None, None, None


def read_write(qe: Any, node: str, cfg: CaptureConfig, started: datetime, ended: datetime,
               error: str | None, light: bool = False) -> Write | None:
    """Everything one write execution tells, or None when it writes nothing we can name.

    ``light``: only the output and the mode (an outer execution whose inner one already gave the lineage).
    """
    root = qe.analyzed()
    output, mode = _output(qe, root, node, cfg)
    if output is None:
        return None
    _glue_symlink(output, cfg)
    if light:
        return Write(node, output, [], {}, [], mode, started, ended, error)
    nodes = json.loads(root.toJSON())
    lineage = analyze(tree(nodes))
    if has_join(nodes):  # only joins make the optimizer infer filters worth the extra plan read
        with contextlib.suppress(Exception):
            add_optimized_filters(lineage, json.loads(qe.optimizedPlan().toJSON()))
    # JVM leaves of the query, matched to the JSON leaves by their attributes' exprIds
    query = root
    for getter in ("query", "child"):
        try:
            query = getattr(root, getter)()
            break
        except Exception:
            continue
    leaves = query.collectLeaves()
    by_attr: dict[int, list[DatasetRef]] = {}
    inputs: list[DatasetRef] = []
    json_leaves = {leaf.output[0].id: leaf for leaf in lineage.leaves if leaf.output}
    for i in range(leaves.size()):
        jvm = leaves.apply(i)
        out = jvm.output()
        if out.size() == 0:
            continue
        first = int(out.apply(0).exprId().id())
        refs = _leaf(jvm, cfg)
        for r in refs:
            _glue_symlink(r, cfg)
        jl = json_leaves.get(first)
        if not refs or jl is None:
            continue
        for r in refs:
            r.fields = [(a.name, a.type) for a in jl.output]
            if not any((x.namespace, x.name) == (r.namespace, r.name) for x in inputs):
                inputs.append(r)
        for a in jl.output:
            by_attr[a.id] = refs
    names = _output_names(nodes[0], lineage)
    types = [a.type for a in lineage.output]
    if not all(types):  # a derived column's type is only known to the JVM (the JSON types attributes alone)
        types = [t or j for t, j in zip(types, _schema_types(query), strict=False)]
    output.fields = [(n, t) for n, t in zip(names, types, strict=False)]
    attr_name = {a.id: a.name for leaf in lineage.leaves for a in leaf.output}
    columns: dict[str, list[tuple[DatasetRef, str, Tx]]] = {}
    for n, a in zip(names, lineage.output, strict=False):
        columns[n] = _sources(lineage, lineage.sources(a.id), by_attr, attr_name)
    dataset = _sources(lineage, lineage.dataset, by_attr, attr_name)
    rows, size, files = _metrics(qe) if error is None else (None, None, None)
    return Write(node, output, inputs, columns, dataset, mode, started, ended, error, rows, size, files)


def _schema_types(query: Any) -> list[str]:
    """Spark's type names of a plan's output columns (``integer``, ``decimal(10,2)``, ``struct``...)."""
    try:
        fields = json.loads(query.schema().json())["fields"]
    except Exception:
        return []
    return [t if isinstance(t := f["type"], str) else str(t.get("type", "")) for f in fields]


def _output_names(root: dict[str, Any], lineage: PlanLineage) -> list[str]:
    raw = root.get("outputColumnNames")
    if isinstance(raw, str) and raw.startswith("["):
        names = [n.strip() for n in raw[1:-1].split(",") if n.strip()]
        if len(names) == len(lineage.output):
            return names
    return [a.name for a in lineage.output]


def _sources(lineage: PlanLineage, deps: Mapping[int, set[Tx]], by_attr: Mapping[int, list[DatasetRef]],
             attr_name: Mapping[int, str]) -> list[tuple[DatasetRef, str, Tx]]:
    out: list[tuple[DatasetRef, str, Tx]] = []
    for src, txs in sorted(deps.items()):
        for ref in by_attr.get(src, []):
            out.extend((ref, attr_name[src], t) for t in sorted(txs))
    return out


# -- merging nested executions and building events ---------------------------------------------------------------
def merge(writes: list[Write]) -> Write:
    """One run from the nested executions of one write: the outermost names it, the richest gives the lineage."""
    namer = min(writes, key=lambda w: _NAMING_RANK.get(w.node, 9))
    richest = max(writes, key=lambda w: (len(w.inputs), len(w.columns)))
    out = Write(**{**richest.__dict__})
    out.node = namer.node
    out.output = next((w.output for w in writes if w.output.symlink), richest.output)
    if not out.output.fields:
        out.output.fields = richest.output.fields
    out.started = min(w.started for w in writes)
    out.ended = max(w.ended for w in writes)
    out.error = next((w.error for w in writes if w.error), None)
    out.mode = namer.mode or richest.mode
    for key in ("rows", "size", "files"):
        if getattr(out, key) is None:
            setattr(out, key, next((getattr(w, key) for w in writes if getattr(w, key) is not None), None))
    out.sql = next((w.sql for w in writes if w.sql), None)
    return out


_OUTER = {"CreateDataSourceTableAsSelectCommand", "SaveAsV1TableCommand", "CreateHiveTableAsSelectCommand",
          "OptimizedCreateHiveTableAsSelectCommand"}


def _nested(pending: list[Write], w: Write) -> bool:
    """Is ``w`` an outer execution of the write pending? (Inner executions are delivered first.)

    ``saveAsTable`` runs InsertIntoHadoopFsRelationCommand inside CreateDataSourceTableAsSelectCommand inside
    SaveAsV1TableCommand; two user writes are two executions of the same kind, which never nest.
    """
    first = pending[0]
    same_table = w.output.table is not None and any(p.output.table == w.output.table for p in pending)
    if not same_table and (first.output.namespace, first.output.name) != (w.output.namespace, w.output.name):
        return False  # (SaveAsV1TableCommand names the table before it has a location: match it by its name)
    return w.node in _OUTER and all(p.node != w.node for p in pending)


# -- the listener ------------------------------------------------------------------------------------------------
class SparkCapture:
    """Registers on a SparkSession and turns its write actions into OpenLineage events for ``sink``.

    The sink is the caller's: the capture flushes it when it flushes, and never closes it.
    """

    def __init__(self, spark: Any, cfg: CaptureConfig, sink: Sink):
        self.spark, self.cfg, self.sink = spark, cfg, sink
        self.events = EventBuilder(cfg)
        self._pending: list[Write] = []
        self._lock = threading.Lock()
        self._closed = False
        self._started = False
        self._sql_text: str | None = None
        self.errors: list[str] = []
        self.writes = 0

    def start(self) -> SparkCapture:
        from pyspark.java_gateway import ensure_callback_server_started

        gateway = self.spark.sparkContext._gateway
        ensure_callback_server_started(gateway)  # type: ignore[no-untyped-call]
        _Listener.on(self.spark).captures.append(self)
        _patch_sql_once()
        self._deliver(self.events.application("START", datetime.now(UTC)))
        self._started = True
        atexit.register(self.close)
        return self

    def note_sql(self, text: str | None) -> None:
        self._sql_text = text

    # called on the listener-bus thread
    def on_action(self, func: str, qe: Any, duration_ns: int, error: str | None) -> None:
        try:
            node = qe.analyzed().getClass().getSimpleName()
            if node not in WRITE_COMMANDS:
                return
            ended = datetime.now(UTC)
            started = ended - timedelta(microseconds=duration_ns / 1000) if duration_ns else ended
            light = node in _OUTER and any(p.node not in _OUTER for p in self._pending)
            w = read_write(qe, node, self.cfg, started, ended, error, light)
            if w is None:
                return
            w.sql = self._sql_text
            with self._lock:
                if self._pending and not _nested(self._pending, w):
                    self._emit_pending()
                self._pending.append(w)
        except Exception as exc:  # a capture bug must never fail the user's job
            log.warning("lineage capture skipped an action (%s): %s", func, exc)
            self.errors.append(f"{func}: {exc}")

    def _emit_pending(self) -> None:
        if not self._pending:
            return
        w = merge(self._pending)
        self._pending = []
        self.writes += 1
        for e in self.events.write(w):
            self._deliver(e)

    def _deliver(self, event: dict[str, Any]) -> None:
        """Hand an event to the sink; a sink that fails must not fail the user's job either."""
        try:
            self.sink.emit(event)
        except Exception as exc:
            log.warning("lineage event not delivered to %s: %s", self.sink.target, exc)
            self.errors.append(f"delivery to {self.sink.target}: {exc}")

    def flush(self, timeout_ms: int = 30_000) -> None:
        """Wait for Spark to deliver every finished action, then emit what is pending."""
        with contextlib.suppress(Exception):
            self.spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(timeout_ms)
        with self._lock:
            self._emit_pending()
        self._flush_sink()

    def _flush_sink(self) -> None:
        try:
            self.sink.flush()
        except Exception as exc:
            log.warning("lineage events not delivered to %s: %s", self.sink.target, exc)
            self.errors.append(f"delivery to {self.sink.target}: {exc}")

    def detach(self) -> None:
        """Stop listening (the session goes on; a test's next capture starts clean)."""
        if self._started:
            listener = _Listener.on(self.spark)
            if self in listener.captures:
                listener.captures.remove(self)
            atexit.unregister(self.close)

    def close(self, error: str | None = None) -> None:
        """Flush, then end the application run (FAIL with ``error`` when the script failed)."""
        if self._closed or not self._started:
            return
        self._closed = True
        self.flush()
        self._deliver(self.events.application("FAIL" if error else "COMPLETE", datetime.now(UTC), error))
        self._flush_sink()


class _Listener:
    """The py4j face of the captures: one per JVM session, registered once, passing actions to the live captures.

    (py4j hands ``unregister`` a new proxy, which Spark does not find, so listeners are never swapped.)
    """

    _by_session: ClassVar[dict[int, _Listener]] = {}

    def __init__(self) -> None:
        self.captures: list[SparkCapture] = []

    @classmethod
    def on(cls, spark: Any) -> _Listener:
        key = int(spark._jsparkSession.hashCode())
        if key not in cls._by_session:
            listener = cls._by_session[key] = cls()
            spark._jsparkSession.listenerManager().register(listener)
        return cls._by_session[key]

    def onSuccess(self, func: str, qe: Any, duration_ns: int) -> None:
        for c in list(self.captures):
            c.on_action(func, qe, duration_ns, None)

    def onFailure(self, func: str, qe: Any, exception: Any) -> None:
        try:
            message = causes.describe(causes.throwable_chain(exception)) or str(exception.toString())
        except Exception:
            message = "the action failed"
        for c in list(self.captures):
            c.on_action(func, qe, 0, scrub(message))

    class Java:
        implements: ClassVar[list[str]] = ["org.apache.spark.sql.util.QueryExecutionListener"]


@functools.cache
def _patch_sql_once() -> None:
    """``spark.sql("CREATE TABLE … AS SELECT …")`` runs eagerly: deliver its events while its text is known, so
    the run carries the ``sql`` job facet as openlineage-spark's does."""
    from pyspark.sql import SparkSession

    orig = SparkSession.sql

    @functools.wraps(orig)
    def sql(self: Any, sqlQuery: str, *args: Any, **kwargs: Any) -> Any:
        listener = _Listener._by_session.get(int(self._jsparkSession.hashCode()))
        captures = list(listener.captures) if listener else []
        if not captures:
            return orig(self, sqlQuery, *args, **kwargs)
        for c in captures:
            c.flush()  # earlier actions keep their own (absent) SQL text
            c.note_sql(sqlQuery)
        try:
            return orig(self, sqlQuery, *args, **kwargs)
        finally:
            for c in captures:
                c.flush()
                c.note_sql(None)

    SparkSession.sql = sql  # type: ignore[method-assign]
