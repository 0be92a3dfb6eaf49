"""Glue's sources and sinks as Spark reads and writes, so the capture sees real plans.

``from_options`` / ``from_catalog`` readers and writers of the ``awsglue`` shim land here: S3 formats with Glue's
``format_options`` turned into Spark options, JDBC through a Glue connection (``connectionName``,
``useConnectionProperties``) or explicit options, catalog tables through the local Data Catalog. A catalog table read
or written by its physical dataset (a JDBC table, an S3 folder) is told to the capture, so the event carries the Glue
table's ARN as a symlink. Passwords go to Spark's JDBC options only.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineagelab.profile import jdbc_parts, lake_path
from lineagelab.spark_local import catalog, datasets, glue_connections, redirect

JDBC_TYPES = frozenset({"mysql", "postgresql", "redshift", "sqlserver", "oracle"})
S3_FORMATS = frozenset({"csv", "json", "parquet", "glueparquet", "orc", "avro"})


class GlueIOError(ValueError):
    """A source or sink this lab cannot read or write (the message names the option that is wrong)."""


@dataclass(frozen=True)
class Jdbc:
    """Where a JDBC read or write goes: the script-level URL (credentials apart) and the table."""

    url: str
    table: str
    user: str
    password: str


def lake() -> Path:
    r = redirect.active()
    return Path(r.profile.lake).resolve() if r is not None else Path(".lineagelab/lake").resolve()


def say_bookmarks_once(transformation_ctx: str) -> None:
    """Glue keeps a bookmark per ``transformation_ctx``; locally every run re-reads everything (said once a run)."""
    if transformation_ctx and glue_connections.first_time("bookmarks"):
        print("lineagelab: job bookmarks are not kept locally: every run re-reads all of its sources",
              file=sys.stderr)


def note_table(namespace: str, name: str, database: str, table: str) -> None:
    """Tell the running capture that this dataset is the Glue catalog table ``database.table``."""
    cap = glue_connections.capture()
    if cap is not None:
        cap.cfg.catalog_tables[(namespace, name)] = (database.lower(), table.lower())


def s3_dataset(path: str) -> tuple[str, str]:
    local = lake_path(lake(), path) if path.startswith(("s3://", "s3a://", "s3n://")) else Path(path)
    return datasets.file_dataset(local.resolve().as_uri(), lake())


# -- S3 --------------------------------------------------------------------------------------------------------
def _csv_read_options(fo: Mapping[str, Any]) -> dict[str, str]:
    opts = {"header": str(bool(fo.get("withHeader", False))).lower(), "inferSchema": "true",
            "sep": str(fo.get("separator", ","))}
    if "quoteChar" in fo:
        opts["quote"] = "" if fo["quoteChar"] in (-1, "-1") else str(fo["quoteChar"])
    if fo.get("escaper"):
        opts["escape"] = str(fo["escaper"])
    if fo.get("multiLine") or fo.get("multiline"):
        opts["multiLine"] = "true"
    return opts


def read_s3(spark: Any, options: Mapping[str, Any], fmt: str, format_options: Mapping[str, Any]) -> Any:
    """``connection_type="s3"``: ``paths`` (or ``path``), ``recurse``; csv/json/parquet/orc with their options."""
    paths = options.get("paths") or ([options["path"]] if options.get("path") else [])
    if isinstance(paths, str):
        paths = [paths]
    if not paths:
        raise GlueIOError("connection_options needs 'paths' (a list of s3:// locations)")
    fmt = (fmt or "").lower()
    if fmt not in S3_FORMATS or fmt == "glueparquet":
        raise GlueIOError(f"format {fmt!r} cannot be read from S3 here (csv, json, parquet, orc)")
    reader = spark.read.format(fmt)
    opts: dict[str, str] = {}
    if fmt == "csv":
        opts = _csv_read_options(format_options)
    elif fmt == "json" and (format_options.get("multiline") or format_options.get("multiLine")):
        opts["multiLine"] = "true"
    if str(options.get("recurse", "")).lower() == "true":
        opts["recursiveFileLookup"] = "true"
    for k, v in opts.items():
        reader = reader.option(k, v)
    r = redirect.active()
    df = reader.load([str(r.path(p)) if r is not None else p for p in paths])
    if fmt == "csv" and opts["header"] == "false":  # Glue names header-less columns col0, col1, …
        df = df.toDF(*[f"col{i}" for i in range(len(df.columns))])
    return df


def write_s3(df: Any, path: str, fmt: str, format_options: Mapping[str, Any],
             partition_keys: Sequence[str] = ()) -> tuple[str, str]:
    """Append ``df`` under ``path`` as Glue's S3 sink does; returns the dataset written."""
    fmt = (fmt or "").lower()
    if fmt not in S3_FORMATS:
        raise GlueIOError(f"format {fmt!r} cannot be written to S3 here (csv, json, parquet, glueparquet, orc)")
    writer = df.write.mode("append").format("parquet" if fmt == "glueparquet" else fmt)
    if fmt == "csv":
        writer = writer.option("header", str(bool(format_options.get("writeHeader", True))).lower())
        writer = writer.option("sep", str(format_options.get("separator", ",")))
        if format_options.get("quoteChar") not in (None, -1, "-1"):
            writer = writer.option("quote", str(format_options["quoteChar"]))
    compression = format_options.get("compression")
    if compression and fmt != "csv":
        writer = writer.option("compression", str(compression))
    if partition_keys:
        writer = writer.partitionBy(*partition_keys)
    writer.save(path)
    return s3_dataset(path)


def purge_s3_path(path: str, options: Mapping[str, Any] | None = None) -> list[Path]:
    """Delete the files under ``path`` older than ``retentionPeriod`` hours (Glue's default: 168)."""
    hours = float((options or {}).get("retentionPeriod", 168))
    root = lake_path(lake(), path)
    cutoff = time.time() - hours * 3600
    gone = [f for f in sorted(root.rglob("*")) if f.is_file() and f.stat().st_mtime <= cutoff]
    for f in gone:
        f.unlink()
    return gone


# -- JDBC -------------------------------------------------------------------------------------------------------
def _with_database(url: str, database: str) -> str:
    """``jdbc:mysql://h:3306/a?x`` with database ``b`` -> ``jdbc:mysql://h:3306/b?x``."""
    head, sep, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    cut = min([i for i in (path.find("?"), path.find(";")) if i >= 0], default=len(path))
    return f"{head}{sep}{authority}/{database}{path[cut:]}"


def catalog_jdbc(t: catalog.GlueTable) -> Jdbc:
    """A crawled JDBC table: its connection, with Location ``db.table`` (MySQL) or ``db.schema.table``."""
    conn = glue_connections.extract(t.connection)
    parts = t.location.split(".")
    if t.classification == "mysql" and len(parts) >= 2:
        return Jdbc(_with_database(conn["fullUrl"], parts[0]), ".".join(parts[1:]), conn["user"], conn["password"])
    if len(parts) >= 3:
        return Jdbc(_with_database(conn["fullUrl"], parts[0]), ".".join(parts[1:]), conn["user"], conn["password"])
    return Jdbc(conn["fullUrl"], t.location, conn["user"], conn["password"])


def options_jdbc(connection_type: str, options: Mapping[str, Any]) -> Jdbc:
    """``connection_options`` of a JDBC source or sink: explicit url/user/password, or a Glue connection."""
    table = str(options.get("dbtable") or "")
    if not table:
        raise GlueIOError(f"connection_type {connection_type!r} needs connection_options 'dbtable'")
    name = options.get("connectionName")
    if name and (str(options.get("useConnectionProperties", "")).lower() == "true" or "url" not in options):
        conn = glue_connections.extract(str(name))
        url = conn["fullUrl"]
        if options.get("database"):
            url = _with_database(url, str(options["database"]))
        return Jdbc(url, table, str(options.get("user") or conn["user"]), str(options.get("password") or
                                                                            conn["password"]))
    if not options.get("url"):
        raise GlueIOError(f"connection_type {connection_type!r} needs connection_options 'url' or "
                          "'connectionName' with 'useConnectionProperties'")
    return Jdbc(str(options["url"]), table, str(options.get("user", "")), str(options.get("password", "")))


def read_jdbc(spark: Any, j: Jdbc) -> Any:
    return (spark.read.format("jdbc").option("url", j.url).option("dbtable", j.table)
            .option("user", j.user).option("password", j.password).load())


def write_jdbc(df: Any, j: Jdbc) -> tuple[str, str]:
    """Append ``df`` to the table (Glue's JDBC sinks append); returns the dataset written."""
    (df.write.format("jdbc").mode("append").option("url", j.url).option("dbtable", j.table)
     .option("user", j.user).option("password", j.password).save())
    return jdbc_dataset(j)


def jdbc_dataset(j: Jdbc) -> tuple[str, str]:
    return datasets.jdbc_dataset(j.url, j.table, {})


def jdbc_scheme(url: str) -> str:
    return jdbc_parts(url)[0]


# -- catalog tables ------------------------------------------------------------------------------------------------
def read_catalog(spark: Any, database: str, table: str, push_down_predicate: str = "") -> Any:
    """A catalog table's rows: S3 tables through Spark's catalog (the plan names the table), JDBC tables through
    their connection (the capture is told which Glue table that database table is)."""
    t = catalog.get_table(spark, database, table, lake())
    if t.is_jdbc:
        j = catalog_jdbc(t)
        df = read_jdbc(spark, j)
        note_table(*jdbc_dataset(j), t.database, t.name)
    else:
        catalog.recover_partitions(spark, t)
        df = spark.table(f"`{t.database}`.`{t.name}`")
    return df.filter(push_down_predicate) if push_down_predicate else df


def write_catalog(df: Any, database: str, table: str, partition_keys: Sequence[str] = (),
                  format_options: Mapping[str, Any] | None = None) -> catalog.GlueTable:
    """Append ``df`` to a catalog table's location (or JDBC table), as its classification says."""
    t = catalog.get_table(spark_of(df), database, table, lake())
    if t.is_jdbc:
        j = catalog_jdbc(t)
        note_table(*jdbc_dataset(j), t.database, t.name)
        write_jdbc(df, j)
        return t
    ns, name = s3_dataset(t.location)
    note_table(ns, name, t.database, t.name)
    keys = list(partition_keys) or [c.name for c in t.partition_keys]
    opts = dict(format_options or {})
    if t.format == "csv":
        ro = t.reader_options()
        opts.setdefault("separator", ro.get("sep", ","))
        opts.setdefault("writeHeader", ro.get("header") == "true")
    write_s3(df, t.location, t.format, opts, keys)
    catalog.recover_partitions(spark_of(df), t)
    return t


def spark_of(df: Any) -> Any:
    return df.sparkSession
