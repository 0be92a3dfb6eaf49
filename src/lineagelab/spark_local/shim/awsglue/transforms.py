"""``awsglue.transforms``: the common DynamicFrame transforms, each a DynamicFrame method under Glue's names.

``X.apply(frame=…, …)`` and ``X()(frame, …)`` both work, as in Glue. The transforms not listed here import but fail
when called, naming themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from awsglue import _Unsupported
from awsglue.dynamicframe import DynamicFrame, DynamicFrameCollection


class GlueTransform:
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        return cls()(*args, **kwargs)

    @classmethod
    def name(cls) -> str:
        return cls.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError


class ApplyMapping(GlueTransform):
    def __call__(self, frame: DynamicFrame, mappings: Sequence[Sequence[str]], case_sensitive: bool = False,
                 transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        return frame.apply_mapping(mappings, case_sensitive, transformation_ctx)


class SelectFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: Sequence[str], transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame.select_fields(paths, transformation_ctx)


class DropFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: Sequence[str], transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame.drop_fields(paths, transformation_ctx)


class RenameField(GlueTransform):
    def __call__(self, frame: DynamicFrame, old_name: str, new_name: str, transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame.rename_field(old_name, new_name, transformation_ctx)


class ResolveChoice(GlueTransform):
    def __call__(self, frame: DynamicFrame, specs: Sequence[tuple[str, str]] | None = None, choice: str = "",
                 database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame.resolveChoice(specs, choice, database, table_name, transformation_ctx)


class DropNullFields(GlueTransform):
    """Drops the fields that are null in every record."""

    def __call__(self, frame: DynamicFrame, transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        from pyspark.sql import functions as F

        df = frame.toDF()
        if not df.columns:
            return frame
        counts = df.select(*[F.count(F.col(f"`{c}`")).alias(f"c{i}") for i, c in enumerate(df.columns)]).first()
        empty = [c for i, c in enumerate(df.columns) if counts is not None and counts[f"c{i}"] == 0]
        return frame.drop_fields([f"`{c}`" for c in empty]) if empty else frame


class Filter(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Callable[[Any], bool], transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame.filter(f, transformation_ctx)


class Map(GlueTransform):
    def __call__(self, frame: DynamicFrame, f: Callable[[Any], Any], preservesPartitioning: bool = False,
                 transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        return frame.map(f, preservesPartitioning, transformation_ctx)


class Join(GlueTransform):
    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, keys1: Sequence[str], keys2: Sequence[str],
                 transformation_ctx: str = "", **kw: Any) -> DynamicFrame:
        return frame1.join(keys1, keys2, frame2, transformation_ctx)


class SplitFields(GlueTransform):
    def __call__(self, frame: DynamicFrame, paths: Sequence[str], name1: str | None = None,
                 name2: str | None = None, transformation_ctx: str = "", **kw: Any) -> DynamicFrameCollection:
        return frame.split_fields(paths, name1 or f"{frame.name}_1", name2 or f"{frame.name}_2", transformation_ctx)


class Union(GlueTransform):
    def __call__(self, frame1: DynamicFrame, frame2: DynamicFrame, transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return frame1.union(frame2, transformation_ctx)


class SelectFromCollection(GlueTransform):
    def __call__(self, dfc: DynamicFrameCollection, key: str, transformation_ctx: str = "",
                 **kw: Any) -> DynamicFrame:
        return dfc.select(key)


Relationalize = _Unsupported("transforms.Relationalize")
Unbox = _Unsupported("transforms.Unbox")
UnnestFrame = _Unsupported("transforms.UnnestFrame")
SplitRows = _Unsupported("transforms.SplitRows")
Spigot = _Unsupported("transforms.Spigot")
FlatMap = _Unsupported("transforms.FlatMap")
MapToCollection = _Unsupported("transforms.MapToCollection")
FillMissingValues = _Unsupported("transforms.FillMissingValues")
ErrorsAsDynamicFrame = _Unsupported("transforms.ErrorsAsDynamicFrame")

__all__ = ["ApplyMapping", "DropFields", "DropNullFields", "ErrorsAsDynamicFrame", "FillMissingValues", "Filter",
           "FlatMap", "GlueTransform", "Join", "Map", "MapToCollection", "Relationalize", "RenameField",
           "ResolveChoice", "SelectFields", "SelectFromCollection", "Spigot", "SplitFields", "SplitRows", "Unbox",
           "Union", "UnnestFrame"]
