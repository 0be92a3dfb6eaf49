"""``awsglue.context.GlueContext`` over a local SparkSession; connections come from the lineagelab profile and the
Data Catalog is the local one (``lineagelab glue import-catalog``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from awsglue import UnsupportedGlueAPI
from awsglue.data_sink import DataSink
from awsglue.dynamicframe import DynamicFrame, DynamicFrameReader, DynamicFrameWriter


class GlueContext:
    def __init__(self, spark_context: Any, **_options: Any):
        from pyspark.sql import SparkSession

        self._sc = spark_context
        self.spark_session = SparkSession.builder.getOrCreate()
        self.create_dynamic_frame = DynamicFrameReader(self)
        self.create_data_frame = DynamicFrameReader(self, as_df=True)
        self.write_dynamic_frame = DynamicFrameWriter(self)

    def extract_jdbc_conf(self, connection_name: str, catalog_id: str | None = None) -> dict[str, str]:
        from lineagelab.spark_local import glue_connections

        return glue_connections.extract(connection_name)

    def getSparkSession(self) -> Any:
        return self.spark_session

    def get_logger(self) -> Any:
        return self._sc._jvm.org.apache.log4j.LogManager.getLogger("GlueLogger")

    def getSink(self, connection_type: str, format: str | None = None, transformation_ctx: str = "",
                **options: Any) -> DataSink:
        if format:
            options["format"] = format
        return DataSink(self, connection_type, options)

    def purge_s3_path(self, s3_path: str, options: Mapping[str, Any] | None = None,
                      transformation_ctx: str = "") -> None:
        from lineagelab.spark_local import glue_io

        glue_io.purge_s3_path(s3_path, options)

    def purge_table(self, database: str, table_name: str, options: Mapping[str, Any] | None = None,
                    transformation_ctx: str = "", catalog_id: str | None = None) -> None:
        from lineagelab.spark_local import catalog, glue_io

        t = catalog.get_table(self.spark_session, database, table_name, glue_io.lake())
        glue_io.purge_s3_path(t.location, options)

    # Glue's flat spellings of the readers and writers
    def create_dynamic_frame_from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.create_dynamic_frame.from_catalog(*args, **kwargs)  # type: ignore[no-any-return]

    def create_dynamic_frame_from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.create_dynamic_frame.from_options(*args, **kwargs)  # type: ignore[no-any-return]

    def create_data_frame_from_catalog(self, *args: Any, **kwargs: Any) -> Any:
        return self.create_data_frame.from_catalog(*args, **kwargs)

    def create_data_frame_from_options(self, *args: Any, **kwargs: Any) -> Any:
        return self.create_data_frame.from_options(*args, **kwargs)

    def write_dynamic_frame_from_options(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.write_dynamic_frame.from_options(*args, **kwargs)

    def write_dynamic_frame_from_catalog(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.write_dynamic_frame.from_catalog(*args, **kwargs)

    def write_dynamic_frame_from_jdbc_conf(self, *args: Any, **kwargs: Any) -> DynamicFrame:
        return self.write_dynamic_frame.from_jdbc_conf(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"GlueContext.{name}")
