"""``awsglue.context.GlueContext`` over a local SparkSession; connections come from the lineagelab profile."""

from __future__ import annotations

from typing import Any

from awsglue import UnsupportedGlueAPI, _Unsupported


class GlueContext:
    def __init__(self, spark_context: Any, **_options: Any):
        from pyspark.sql import SparkSession

        self._sc = spark_context
        self.spark_session = SparkSession.builder.getOrCreate()

    def extract_jdbc_conf(self, connection_name: str, catalog_id: str | None = None) -> dict[str, str]:
        from lineagelab.spark_local import glue_connections

        return glue_connections.extract(connection_name)

    def getSparkSession(self) -> Any:
        return self.spark_session

    def get_logger(self) -> Any:
        return self._sc._jvm.org.apache.log4j.LogManager.getLogger("GlueLogger")

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in ("create_dynamic_frame", "write_dynamic_frame", "create_data_frame", "write_data_frame"):
            return _Unsupported(f"GlueContext.{name}")
        raise UnsupportedGlueAPI(f"GlueContext.{name}")
