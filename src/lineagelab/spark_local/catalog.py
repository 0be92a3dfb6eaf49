"""The local Glue Data Catalog, kept in the Hive metastore the local SparkSession already uses.

Databases and tables arrive as ``aws glue get-tables`` / ``get-table`` / ``get-databases`` print them (field names
are botocore's glue shapes). An S3 table becomes a Spark table over its folder in the local lake (columns, partition
keys, format and reader options are what Spark holds natively); a JDBC table as a crawler creates it (Location
``db.table``, ``connectionName``, classification mysql/postgresql/redshift) becomes a schema-only table. Whatever
Spark cannot hold (the S3 location, the serde, the connection, Glue's own Parameters) goes to table properties
under ``glue.``, so a table reads back as the Glue table it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineagelab.profile import lake_path
from lineagelab.spark_local import datasets

JDBC_CLASSIFICATIONS = frozenset({"mysql", "postgresql", "redshift", "sqlserver", "oracle"})
FORMATS = frozenset({"csv", "json", "parquet", "orc", "avro"})
_PROP = "glue."  # table properties lineagelab keeps for what Spark has no place for
# serde / input format fragments -> the format they read (a table without a classification)
_FORMAT_HINTS = (("parquet", "parquet"), ("orc", "orc"), ("json", "json"), ("avro", "avro"), ("opencsv", "csv"),
                 ("lazysimpleserde", "csv"), ("textinputformat", "csv"))


class CatalogError(ValueError):
    """A catalog file or table lineagelab cannot use (the message names the file or table and what is wrong)."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class Database:
    name: str
    description: str = ""
    location: str = ""


@dataclass(frozen=True)
class GlueTable:
    """One Glue table: an S3 table (``location`` s3://…) or a JDBC one (``location`` db.table, ``connection``)."""

    database: str
    name: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...] = ()
    location: str = ""
    classification: str = ""
    connection: str = ""
    serde: str = ""
    serde_parameters: Mapping[str, str] = field(default_factory=dict)
    input_format: str = ""
    output_format: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)
    table_type: str = "EXTERNAL_TABLE"
    description: str = ""

    @property
    def qualified(self) -> str:
        return f"{self.database}.{self.name}"

    @property
    def is_jdbc(self) -> bool:
        return self.classification in JDBC_CLASSIFICATIONS

    @property
    def format(self) -> str:
        """The Spark data source that reads the table's files."""
        return self.classification if self.classification in FORMATS else "csv"

    def reader_options(self) -> dict[str, str]:
        """Spark reader options for the serde's parameters (CSV delimiters, quotes, header lines)."""
        if self.format != "csv":
            return {}
        p = {**self.parameters, **self.serde_parameters}
        opts = {"sep": p.get("separatorChar") or p.get("field.delim") or p.get("delimiter") or ","}
        if p.get("quoteChar"):
            opts["quote"] = p["quoteChar"]
        if p.get("escapeChar"):
            opts["escape"] = p["escapeChar"]
        opts["header"] = "true" if p.get("skip.header.line.count", "0").strip() == "1" else "false"
        return opts


@dataclass(frozen=True)
class CatalogDocument:
    databases: tuple[Database, ...] = ()
    tables: tuple[GlueTable, ...] = ()


# -- reading `aws glue` output -------------------------------------------------------------------------------------
def read_files(paths: Iterable[Path]) -> CatalogDocument:
    """The databases and tables of several ``aws glue get-*`` outputs, in order."""
    dbs: list[Database] = []
    tables: list[GlueTable] = []
    for path in paths:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            raise CatalogError(f"{path}: no such file") from None
        except ValueError as exc:
            raise CatalogError(f"{path}: not JSON: {exc}") from None
        one = parse_document(doc, str(path))
        dbs.extend(one.databases)
        tables.extend(one.tables)
    return CatalogDocument(tuple(dbs), tuple(tables))


def parse_document(doc: Any, where: str) -> CatalogDocument:
    """``{"TableList": […]}`` (get-tables), ``{"Table": {…}}`` (get-table), ``{"DatabaseList": […]}``
    (get-databases) or ``{"Database": {…}}`` (get-database)."""
    if not isinstance(doc, dict) or not ({"TableList", "Table", "DatabaseList", "Database"} & doc.keys()):
        raise CatalogError(f"{where}: not the output of aws glue get-tables, get-table or get-databases "
                           "(expected TableList, Table or DatabaseList)")
    tables = [parse_table(t, f"{where}: TableList[{i}]") for i, t in enumerate(_list(doc, "TableList", where))]
    if "Table" in doc:
        tables.append(parse_table(doc["Table"], f"{where}: Table"))
    raw_dbs = _list(doc, "DatabaseList", where) + ([doc["Database"]] if "Database" in doc else [])
    dbs = []
    for i, d in enumerate(raw_dbs):
        if not isinstance(d, dict) or not d.get("Name"):
            raise CatalogError(f"{where}: DatabaseList[{i}] has no Name")
        dbs.append(Database(str(d["Name"]).lower(), str(d.get("Description", "")), str(d.get("LocationUri", ""))))
    return CatalogDocument(tuple(dbs), tuple(tables))


def _list(doc: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = doc.get(key, [])
    if not isinstance(value, list):
        raise CatalogError(f"{where}: {key} is not a list")
    return value


def parse_table(t: Any, where: str) -> GlueTable:
    """One ``Table`` shape: Name, DatabaseName, StorageDescriptor, PartitionKeys, Parameters, TableType."""
    if not isinstance(t, dict) or not t.get("Name") or not t.get("DatabaseName"):
        raise CatalogError(f"{where}: a table needs Name and DatabaseName")
    name = f"{t['DatabaseName']}.{t['Name']}"
    sd = t.get("StorageDescriptor") or {}
    if not isinstance(sd, dict):
        raise CatalogError(f"{where} ({name}): StorageDescriptor is not an object")
    params = {str(k): str(v) for k, v in (t.get("Parameters") or {}).items()}
    sd_params = {str(k): str(v) for k, v in (sd.get("Parameters") or {}).items()}
    serde = sd.get("SerdeInfo") or {}
    serde_lib = str(serde.get("SerializationLibrary", ""))
    classification = (params.get("classification") or sd_params.get("classification")
                      or _guess_format(serde_lib, str(sd.get("InputFormat", "")))).lower()
    location = str(sd.get("Location", ""))
    connection = params.get("connectionName") or sd_params.get("connectionName") or ""
    if classification in JDBC_CLASSIFICATIONS:
        if not connection:
            raise CatalogError(f"{where} ({name}): a {classification} table needs Parameters.connectionName")
        if not location or "://" in location:
            raise CatalogError(f"{where} ({name}): a {classification} table's StorageDescriptor.Location is "
                               f"db.table, not {location!r}")
    elif not location.startswith(("s3://", "s3a://", "s3n://")):
        raise CatalogError(f"{where} ({name}): StorageDescriptor.Location {location!r} is not an s3:// location "
                           f"(classification {classification or 'unknown'!r})")
    return GlueTable(
        database=str(t["DatabaseName"]).lower(), name=str(t["Name"]).lower(),
        columns=_columns(sd.get("Columns"), f"{where} ({name}) StorageDescriptor.Columns"),
        partition_keys=_columns(t.get("PartitionKeys"), f"{where} ({name}) PartitionKeys"),
        location=location, classification=classification, connection=connection, serde=serde_lib,
        serde_parameters={str(k): str(v) for k, v in (serde.get("Parameters") or {}).items()},
        input_format=str(sd.get("InputFormat", "")), output_format=str(sd.get("OutputFormat", "")),
        parameters=params, table_type=str(t.get("TableType", "EXTERNAL_TABLE")),
        description=str(t.get("Description", "")))


def _columns(raw: Any, where: str) -> tuple[Column, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CatalogError(f"{where} is not a list")
    out = []
    for i, c in enumerate(raw):
        if not isinstance(c, dict) or not c.get("Name") or not c.get("Type"):
            raise CatalogError(f"{where}[{i}] needs Name and Type")
        out.append(Column(str(c["Name"]).lower(), str(c["Type"]), str(c.get("Comment", ""))))
    return tuple(out)


def _guess_format(serde: str, input_format: str) -> str:
    text = f"{serde} {input_format}".lower()
    return next((fmt for hint, fmt in _FORMAT_HINTS if hint in text), "")


# -- the metastore -------------------------------------------------------------------------------------------------
def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _lit(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _properties(t: GlueTable) -> dict[str, str]:
    props = {f"{_PROP}classification": t.classification, f"{_PROP}location": t.location,
             f"{_PROP}connectionName": t.connection, f"{_PROP}serde": t.serde,
             f"{_PROP}inputFormat": t.input_format, f"{_PROP}outputFormat": t.output_format,
             f"{_PROP}tableType": t.table_type}
    props.update({f"{_PROP}serde.{k}": v for k, v in t.serde_parameters.items()})
    props.update({f"{_PROP}param.{k}": v for k, v in t.parameters.items()})
    return {k: v for k, v in props.items() if v}


def create_database(spark: Any, db: Database, lake: Path) -> None:
    sql = f"CREATE DATABASE IF NOT EXISTS {_q(db.name)}"
    if db.description:
        sql += f" COMMENT {_lit(db.description)}"
    if db.location.startswith(("s3://", "s3a://", "s3n://")):
        sql += f" LOCATION {_lit(lake_path(lake, db.location).as_uri())}"
    spark.sql(sql)


def create_table(spark: Any, t: GlueTable, lake: Path, replace: bool = True) -> None:
    """Create (or replace) ``t`` in the metastore; its database is created when missing."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {_q(t.database)}")
    ident = f"{_q(t.database)}.{_q(t.name)}"
    if replace:
        spark.sql(f"DROP TABLE IF EXISTS {ident}")  # external: the data stays
    cols = ", ".join(f"{_q(c.name)} {c.type}" + (f" COMMENT {_lit(c.comment)}" if c.comment else "")
                     for c in (*t.columns, *t.partition_keys))
    props = ", ".join(f"{_lit(k)}={_lit(v)}" for k, v in _properties(t).items())
    if t.is_jdbc:  # the rows live in the database: the metastore keeps the schema and the connection only
        sql = f"CREATE TABLE {ident} ({cols}) USING parquet"
    else:
        options = ", ".join(f"{_lit(k)} {_lit(v)}" for k, v in t.reader_options().items())
        local = lake_path(lake, t.location)
        local.mkdir(parents=True, exist_ok=True)
        sql = f"CREATE TABLE {ident} ({cols}) USING {t.format}"
        if options:
            sql += f" OPTIONS ({options})"
        if t.partition_keys:
            sql += f" PARTITIONED BY ({', '.join(_q(c.name) for c in t.partition_keys)})"
        sql += f" LOCATION {_lit(local.as_uri())}"
    if t.description:
        sql += f" COMMENT {_lit(t.description)}"
    spark.sql(sql + (f" TBLPROPERTIES ({props})" if props else ""))
    recover_partitions(spark, t)


def import_document(spark: Any, doc: CatalogDocument, lake: Path) -> list[str]:
    """Create every database and table of ``doc``; returns what was imported (``db`` and ``db.table``)."""
    done = []
    for db in doc.databases:
        create_database(spark, db, lake)
        done.append(db.name)
    for t in doc.tables:
        create_table(spark, t, lake)
        done.append(t.qualified)
    return done


def recover_partitions(spark: Any, t: GlueTable) -> None:
    """Register the partition folders the table's location holds now (Glue's crawler / MSCK REPAIR)."""
    if t.partition_keys and not t.is_jdbc:
        spark.sql(f"ALTER TABLE {_q(t.database)}.{_q(t.name)} RECOVER PARTITIONS")


def exists(spark: Any, database: str, name: str) -> bool:
    return bool(spark.catalog.tableExists(f"{_q(database.lower())}.{_q(name.lower())}"))


def get_table(spark: Any, database: str, name: str, lake: Path) -> GlueTable:
    """A table of the local catalog as Glue describes it (tables Spark created get their Glue reading too)."""
    database, name = database.lower(), name.lower()
    if not exists(spark, database, name):
        raise CatalogError(f"Glue table {database}.{name} is not in the local Data Catalog: import it with "
                           "`lineagelab glue import-catalog FILE` (the JSON of `aws glue get-tables`)")
    ident = f"{_q(database)}.{_q(name)}"
    props = {r[0]: r[1] for r in spark.sql(f"SHOW TBLPROPERTIES {ident}").collect()}
    info = {str(r[0]).strip(): str(r[1] or "") for r in spark.sql(f"DESCRIBE TABLE EXTENDED {ident}").collect()}
    cols: list[Column] = []
    parts: list[Column] = []
    for c in spark.catalog.listColumns(ident):
        (parts if c.isPartition else cols).append(Column(c.name, c.dataType, c.description or ""))

    def prop(key: str) -> str:
        return str(props.get(_PROP + key, ""))

    location = prop("location")
    if not location and info.get("Location"):
        ns, path = datasets.file_dataset(info["Location"], lake)
        location = f"{ns}/{path}" if ns.startswith("s3://") else info["Location"]
    provider = info.get("Provider", "").lower()
    return GlueTable(
        database=database, name=name, columns=tuple(cols), partition_keys=tuple(parts), location=location,
        classification=prop("classification") or (provider if provider in FORMATS else provider or "hive"),
        connection=prop("connectionName"), serde=prop("serde"),
        serde_parameters=_prefixed(props, _PROP + "serde."), input_format=prop("inputFormat"),
        output_format=prop("outputFormat"), parameters=_prefixed(props, _PROP + "param."),
        table_type=prop("tableType") or info.get("Type", "").upper() or "EXTERNAL_TABLE",
        description=info.get("Comment", ""))


def _prefixed(props: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix):]: v for k, v in props.items() if k.startswith(prefix)}


def list_tables(spark: Any, lake: Path, database: str | None = None) -> list[GlueTable]:
    """Every table of the local catalog (or of one database), sorted by database and name."""
    if database is not None and not spark.catalog.databaseExists(database.lower()):
        raise CatalogError(f"no database {database.lower()!r} in the local Data Catalog")
    dbs = [database.lower()] if database else sorted(d.name for d in spark.catalog.listDatabases())
    out: list[GlueTable] = []
    for db in dbs:
        names = sorted(t.name for t in spark.catalog.listTables(db) if not t.isTemporary)
        out.extend(get_table(spark, db, n, lake) for n in names)
    return out


def update_from_write(spark: Any, database: str, name: str, *, location: str, classification: str,
                      fields: Sequence[tuple[str, str]], partition_keys: Sequence[str], lake: Path,
                      behavior: str = "UPDATE_IN_DATABASE") -> GlueTable:
    """What a Glue sink with ``enableUpdateCatalog`` does after writing: create the table when missing, else add
    the new columns (``UPDATE_IN_DATABASE``; ``LOG`` keeps the schema) and the new partitions."""
    if not exists(spark, database, name):
        keys = [k.lower() for k in partition_keys]
        t = GlueTable(database.lower(), name.lower(),
                      tuple(Column(n.lower(), ty) for n, ty in fields if n.lower() not in keys),
                      tuple(Column(n.lower(), ty) for n, ty in fields if n.lower() in keys),
                      location=location, classification=classification)
        create_table(spark, t, lake)
        return t
    t = get_table(spark, database, name, lake)
    known = {c.name.lower() for c in (*t.columns, *t.partition_keys)}
    new = [(n, ty) for n, ty in fields if n.lower() not in known]
    if new and behavior.upper() == "UPDATE_IN_DATABASE":
        cols = ", ".join(f"{_q(n.lower())} {ty}" for n, ty in new)
        spark.sql(f"ALTER TABLE {_q(t.database)}.{_q(t.name)} ADD COLUMNS ({cols})")
    recover_partitions(spark, t)
    return get_table(spark, database, name, lake)
