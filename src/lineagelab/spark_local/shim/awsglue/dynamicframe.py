"""``awsglue.dynamicframe.DynamicFrame``: ``fromDF``/``toDF`` round trips; other methods are not shimmed."""

from __future__ import annotations

from typing import Any

from awsglue import UnsupportedGlueAPI


class DynamicFrame:
    def __init__(self, df: Any, glue_ctx: Any = None, name: str = ""):
        self._df, self.glue_ctx, self.name = df, glue_ctx, name

    @classmethod
    def fromDF(cls, dataframe: Any, glue_ctx: Any, name: str) -> DynamicFrame:
        return cls(dataframe, glue_ctx, name)

    def toDF(self) -> Any:
        return self._df

    def count(self) -> int:
        return int(self._df.count())

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"DynamicFrame.{name}")
