"""``awsglue.data_sink.DataSink``: what ``glueContext.getSink(...)`` returns; ``writeFrame`` writes to S3 (or a JDBC
table) and, with ``enableUpdateCatalog``, creates or updates the catalog table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from awsglue import UnsupportedGlueAPI


class DataSink:
    def __init__(self, glue_context: Any, connection_type: str, options: Mapping[str, Any]):
        self._ctx, self._type, self._options = glue_context, connection_type.lower(), dict(options)
        self._database: str | None = None
        self._table: str | None = None
        self._format, self._format_options = "", dict[str, Any]()

    def setCatalogInfo(self, catalogDatabase: str, catalogTableName: str, catalogId: str | None = None) -> None:
        self._database, self._table = catalogDatabase, catalogTableName

    def setFormat(self, format: str, **options: Any) -> None:
        self._format, self._format_options = format, options

    def writeFrame(self, dynamic_frame: Any, info: str = "") -> Any:
        from lineagelab.spark_local import catalog, glue_io

        df = dynamic_frame.toDF() if hasattr(dynamic_frame, "toDF") else dynamic_frame
        opts = self._options
        keys = list(opts.get("partitionKeys") or [])
        update = str(opts.get("enableUpdateCatalog", "false")).lower() == "true"
        if self._type in glue_io.JDBC_TYPES:
            glue_io.write_jdbc(df, glue_io.options_jdbc(self._type, opts))
            return dynamic_frame
        if self._type != "s3":
            raise UnsupportedGlueAPI(f"GlueContext.getSink(connection_type={self._type!r})")
        fmt = (self._format or opts.get("format") or "").lower()
        fmt_opts = {**({"compression": opts["compression"]} if opts.get("compression") else {}),
                    **self._format_options}
        spark = df.sparkSession
        path = str(opts.get("path") or "")
        known = self._database and self._table and catalog.exists(spark, self._database, self._table)
        if not path:
            if not known or self._database is None or self._table is None:
                raise ValueError("getSink: give path=s3://… or setCatalogInfo of an existing table")
            glue_io.write_catalog(df, self._database, self._table, keys, fmt_opts)
            return dynamic_frame
        if not fmt:
            raise ValueError("getSink: call setFormat(…) before writeFrame (csv, json, parquet, glueparquet, orc)")
        if self._database and self._table and (update or known):
            # before the write: the capture reads the write's event on Spark's listener thread, maybe at once
            glue_io.note_table(*glue_io.s3_dataset(path), self._database, self._table)
        glue_io.write_s3(df, path, fmt, fmt_opts, keys)
        if update and self._database and self._table:
            fields = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
            catalog.update_from_write(spark, self._database, self._table, location=path,
                                      classification="parquet" if fmt == "glueparquet" else fmt, fields=fields,
                                      partition_keys=keys, lake=glue_io.lake(),
                                      behavior=str(opts.get("updateBehavior", "UPDATE_IN_DATABASE")))
        return dynamic_frame

    def write(self, dynamic_frame: Any, info: str = "") -> Any:
        return self.writeFrame(dynamic_frame, info)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"DataSink.{name}")
