"""``awsglue.dynamicframe``: DynamicFrame over a Spark DataFrame, its collection, and GlueContext's readers/writers.

Each DynamicFrame operation is a DataFrame operation, so lineage follows the plan: a rename is an alias (IDENTITY),
a cast a TRANSFORMATION, a Python function over records an opaque step (Filter: a Python UDF condition; Map:
``mapInArrow``). DataFrame columns have one type, so Glue's choice types never arise: ``resolveChoice`` casts,
projects or wraps the columns its specs name and leaves the rest alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from awsglue import UnsupportedGlueAPI

# Glue's type names -> Spark's simpleString, to tell a rename from a cast
_TYPES = {"long": "bigint", "integer": "int", "short": "smallint", "byte": "tinyint", "bool": "boolean",
          "str": "string", "real": "float", "decimal": "decimal(10,0)"}


def _norm_type(name: str) -> str:
    n = name.strip().lower().replace(" ", "")
    return _TYPES.get(n, n)


def _col(df: Any, path: str) -> Any:
    from pyspark.sql import functions as F

    return F.col(f"`{path}`") if path in df.columns else F.col(path)


def _field_name(path: str) -> str:
    return path.replace("`", "")


class DynamicFrame:
    def __init__(self, df: Any, glue_ctx: Any = None, name: str = ""):
        self._df, self.glue_ctx, self.name = df, glue_ctx, name

    def _new(self, df: Any, name: str = "") -> DynamicFrame:
        return DynamicFrame(df, self.glue_ctx, name or self.name)

    # -- conversions and inspection -------------------------------------------------------------------------------
    @classmethod
    def fromDF(cls, dataframe: Any, glue_ctx: Any, name: str) -> DynamicFrame:
        return cls(dataframe, glue_ctx, name)

    def toDF(self, options: Any = None) -> Any:
        return self._df

    def count(self) -> int:
        return int(self._df.count())

    def schema(self) -> Any:
        return self._df.schema

    def printSchema(self) -> None:
        self._df.printSchema()

    def show(self, num_rows: int = 20) -> None:
        """Records as JSON, as Glue prints them."""
        for line in self._df.toJSON().take(num_rows):
            print(line)

    def getNumPartitions(self) -> int:
        return int(self._df.rdd.getNumPartitions())

    def errorsCount(self) -> int:
        return 0  # DataFrame rows have no per-record errors

    def stageErrorsCount(self) -> int:
        return 0

    def assertErrorThreshold(self) -> None:
        return None

    def errorsAsDynamicFrame(self) -> DynamicFrame:
        return self._new(self._df.limit(0).select())

    # -- field transforms -------------------------------------------------------------------------------------------
    def select_fields(self, paths: Sequence[str], transformation_ctx: str = "", info: str = "",
                      stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._new(self._df.select(*[_col(self._df, p).alias(_field_name(p).rsplit(".", 1)[-1])
                                           for p in paths if self._has(p)]))

    def drop_fields(self, paths: Sequence[str], transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        drop = {_field_name(p).lower() for p in paths}
        return self._new(self._df.select(*[_col(self._df, c) for c in self._df.columns if c.lower() not in drop]))

    def rename_field(self, oldName: str, newName: str, transformation_ctx: str = "", info: str = "",
                     stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        old, new = _field_name(oldName), _field_name(newName)
        return self._new(self._df.select(*[_col(self._df, c).alias(new) if c.lower() == old.lower()
                                           else _col(self._df, c) for c in self._df.columns]))

    def apply_mapping(self, mappings: Sequence[Sequence[str]], case_sensitive: bool = False,
                      transformation_ctx: str = "", info: str = "", stageThreshold: int = 0,
                      totalThreshold: int = 0) -> DynamicFrame:
        """(source, source type, target, target type): a rename keeps the value, a different type casts it;
        fields no mapping names are dropped, as in Glue."""
        types = {f.name.lower(): f.dataType.simpleString() for f in self._df.schema.fields}
        cols = []
        for m in mappings:
            if len(m) != 4:
                raise ValueError(f"ApplyMapping: mapping {tuple(m)!r} is not (source, source type, target, "
                                 "target type)")
            src, _src_type, dst, dst_type = (str(x) for x in m)
            if not self._has(src):
                continue  # Glue skips mappings whose source field is absent
            c = _col(self._df, src)
            actual = types.get(_field_name(src).lower())
            if actual is None or _norm_type(actual) != _norm_type(dst_type):
                c = c.cast(_norm_type(dst_type))
            cols.append(c.alias(_field_name(dst)))
        return self._new(self._df.select(*cols))

    def resolveChoice(self, specs: Sequence[tuple[str, str]] | None = None, choice: str = "",
                      database: str | None = None, table_name: str | None = None, transformation_ctx: str = "",
                      info: str = "", stageThreshold: int = 0, totalThreshold: int = 0,
                      catalog_id: str | None = None) -> DynamicFrame:
        from pyspark.sql import functions as F

        df = self._df
        actions = {_field_name(p).lower(): a for p, a in (specs or [])}
        if choice == "match_catalog" or any(a == "match_catalog" for a in actions.values()):
            if not database or not table_name:
                raise ValueError("resolveChoice match_catalog needs database and table_name")
            from lineagelab.spark_local import catalog, glue_io

            t = catalog.get_table(df.sparkSession, database, table_name, glue_io.lake())
            wanted = {c.name.lower(): c.type for c in (*t.columns, *t.partition_keys)}
            for c in df.columns:
                if (choice == "match_catalog" or actions.get(c.lower()) == "match_catalog") and c.lower() in wanted:
                    actions[c.lower()] = f"cast:{wanted[c.lower()]}"
        cols = []
        for f in df.schema.fields:
            action = actions.get(f.name.lower(), "")
            c = _col(df, f.name)
            kind, _, type_name = action.partition(":")
            if kind in ("cast", "project"):
                c = c.cast(_norm_type(type_name)) if _norm_type(type_name) != f.dataType.simpleString() else c
                cols.append(c.alias(f.name))
            elif kind == "make_struct":
                cols.append(F.struct(c.alias(f.dataType.typeName())).alias(f.name))
            elif kind in ("make_cols", "", "match_catalog"):
                cols.append(c)  # one type per column: nothing to split
            else:
                raise ValueError(f"resolveChoice: unknown action {action!r} for {f.name!r} (cast:TYPE, "
                                 "project:TYPE, make_cols, make_struct, match_catalog)")
        return self._new(df.select(*cols))

    def _has(self, path: str) -> bool:
        name = _field_name(path)
        top = name.split(".", 1)[0]
        return any(c.lower() in (name.lower(), top.lower()) for c in self._df.columns)

    # -- record functions ------------------------------------------------------------------------------------------
    def filter(self, f: Callable[[Any], bool], transformation_ctx: str = "", info: str = "",
               stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """``f`` sees each record as a dict; Spark sees a Python UDF over every column (so all are filter inputs)."""
        from pyspark.sql import functions as F
        from pyspark.sql.types import BooleanType

        def keep(row: Any) -> bool:
            return bool(f(row.asDict(recursive=True)))

        udf = F.udf(keep, BooleanType(), useArrow=False)
        return self._new(self._df.filter(udf(F.struct(*[_col(self._df, c) for c in self._df.columns]))))

    def map(self, f: Callable[[Any], Any], preservesPartitioning: bool = False, transformation_ctx: str = "",
            info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """``f`` maps each record (a dict) to a record; the output schema is read off ``f``'s results on a sample.
        Spark runs it as ``mapInArrow``: opaque to lineage, as a Python function is."""
        import importlib.util

        if importlib.util.find_spec("pandas") is None:
            raise RuntimeError("awsglue Map runs as Spark's mapInArrow, which needs pandas (Glue's runtime has it): "
                               "pip install pandas")
        import pyarrow as pa
        from pyspark.sql.pandas.types import to_arrow_schema

        df = self._df
        sample = [f(r.asDict(recursive=True)) for r in df.limit(100).collect()]
        schema = _infer_schema(df, [s for s in sample if s is not None])
        arrow = to_arrow_schema(schema)
        names = schema.fieldNames()

        def run(batches: Iterable[Any]) -> Iterator[Any]:
            for b in batches:
                rows = [f(r) for r in b.to_pylist()]
                rows = [{n: r.get(n) for n in names} for r in rows if r is not None]
                yield pa.RecordBatch.from_pylist(rows, schema=arrow)

        return self._new(df.mapInArrow(run, schema))

    # -- frames together -------------------------------------------------------------------------------------------
    def join(self, paths1: Sequence[str], paths2: Sequence[str], frame2: DynamicFrame, transformation_ctx: str = "",
             info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        """An equality join keeping both frames' fields; a key of the same name on both sides appears once."""
        if len(paths1) != len(paths2) or not paths1:
            raise ValueError("Join: keys1 and keys2 must name the same number of fields (at least one)")
        left, right = self._df.alias("l"), frame2.toDF().alias("r")
        same = [a for a, b in zip(paths1, paths2, strict=True) if a.lower() == b.lower()]
        cond = None
        for a, b in zip(paths1, paths2, strict=True):
            c = left[a] == right[b]
            cond = c if cond is None else cond & c
        joined = left.join(right, cond, "inner")
        keep = [left[c] for c in self._df.columns] + [right[c] for c in frame2.toDF().columns
                                                     if c.lower() not in {s.lower() for s in same}]
        return self._new(joined.select(*keep))

    def union(self, other_frame: DynamicFrame, transformation_ctx: str = "", info: str = "",
              stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._new(self._df.unionByName(other_frame.toDF(), allowMissingColumns=True))

    def split_fields(self, paths: Sequence[str], name1: str, name2: str, transformation_ctx: str = "",
                     info: str = "", stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrameCollection:
        chosen = self.select_fields(paths)
        rest = self.drop_fields(paths)
        return DynamicFrameCollection({name1: chosen, name2: rest}, self.glue_ctx)

    def repartition(self, num_partitions: int, transformation_ctx: str = "", info: str = "",
                    stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._new(self._df.repartition(num_partitions))

    def coalesce(self, num_partitions: int, shuffle: bool = False, transformation_ctx: str = "", info: str = "",
                 stageThreshold: int = 0, totalThreshold: int = 0) -> DynamicFrame:
        return self._new(self._df.coalesce(num_partitions))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"DynamicFrame.{name}")


def _infer_schema(df: Any, records: Sequence[Mapping[str, Any]]) -> Any:
    """The schema of ``records``: each field typed by its first non-null value, else by the input's field."""
    from pyspark.sql.types import StringType, StructField, StructType, _infer_type

    if not records:
        return df.schema
    known = {f.name: f.dataType for f in df.schema.fields}
    names = list(dict.fromkeys(k for r in records for k in r))
    fields = []
    for n in names:
        value = next((r[n] for r in records if r.get(n) is not None), None)
        dtype = _infer_type(value) if value is not None else known.get(n, StringType())
        fields.append(StructField(n, dtype, True))
    return StructType(fields)


class DynamicFrameCollection:
    def __init__(self, dynamic_frames: Mapping[str, DynamicFrame], glue_ctx: Any = None):
        self._frames, self.glue_ctx = dict(dynamic_frames), glue_ctx

    def __getitem__(self, key: str) -> DynamicFrame:
        return self._frames[key]

    def __len__(self) -> int:
        return len(self._frames)

    def keys(self) -> list[str]:
        return list(self._frames)

    def values(self) -> list[DynamicFrame]:
        return list(self._frames.values())

    def select(self, key: str, transformation_ctx: str = "") -> DynamicFrame:
        return self._frames[key]

    def map(self, callable: Callable[[DynamicFrame, str], DynamicFrame], transformation_ctx: str = "") -> Any:
        return DynamicFrameCollection({k: callable(v, transformation_ctx) for k, v in self._frames.items()},
                                      self.glue_ctx)


def _frame(df: Any, glue_ctx: Any, name: str) -> DynamicFrame:
    return DynamicFrame(df, glue_ctx, name)


class DynamicFrameReader:
    """``glueContext.create_dynamic_frame`` (and ``create_data_frame``, with ``as_df``)."""

    def __init__(self, glue_context: Any, as_df: bool = False):
        self._ctx, self._as_df = glue_context, as_df
        self._what = "create_data_frame" if as_df else "create_dynamic_frame"

    def _out(self, df: Any, name: str) -> Any:
        return df if self._as_df else _frame(df, self._ctx, name)

    def from_catalog(self, database: str | None = None, table_name: str | None = None, redshift_tmp_dir: str = "",
                     transformation_ctx: str = "", push_down_predicate: str = "",
                     additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None,
                     name_space: str | None = None, **kwargs: Any) -> Any:
        from lineagelab.spark_local import glue_io

        database = database or name_space
        if not database or not table_name:
            raise ValueError(f"{self._what}.from_catalog needs database and table_name")
        glue_io.say_bookmarks_once(transformation_ctx)
        predicate = push_down_predicate or str((additional_options or {}).get("catalogPartitionPredicate", ""))
        df = glue_io.read_catalog(self._ctx.spark_session, database, table_name, predicate)
        return self._out(df, table_name)

    def from_options(self, connection_type: str, connection_options: Mapping[str, Any] | None = None,
                     format: str | None = None, format_options: Mapping[str, Any] | None = None,
                     transformation_ctx: str = "", push_down_predicate: str = "", **kwargs: Any) -> Any:
        from lineagelab.spark_local import glue_io

        glue_io.say_bookmarks_once(transformation_ctx)
        opts, kind = dict(connection_options or {}), connection_type.lower()
        spark = self._ctx.spark_session
        if kind == "s3":
            df = glue_io.read_s3(spark, opts, format or "", dict(format_options or {}))
        elif kind in glue_io.JDBC_TYPES:
            df = glue_io.read_jdbc(spark, glue_io.options_jdbc(kind, opts))
        else:
            raise UnsupportedGlueAPI(f"{self._what}.from_options(connection_type={connection_type!r})")
        return self._out(df.filter(push_down_predicate) if push_down_predicate else df, transformation_ctx)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"GlueContext.{self._what}.{name}")


class DynamicFrameWriter:
    """``glueContext.write_dynamic_frame``: S3 and JDBC by options, catalog tables, JDBC by a Glue connection."""

    def __init__(self, glue_context: Any):
        self._ctx = glue_context

    def from_options(self, frame: DynamicFrame, connection_type: str,
                     connection_options: Mapping[str, Any] | None = None, format: str | None = None,
                     format_options: Mapping[str, Any] | None = None, transformation_ctx: str = "",
                     **kwargs: Any) -> DynamicFrame:
        from lineagelab.spark_local import glue_io

        opts, kind = dict(connection_options or {}), connection_type.lower()
        df = _df(frame)
        if kind == "s3":
            if not opts.get("path"):
                raise ValueError("write_dynamic_frame.from_options: connection_options needs 'path' (s3://…)")
            glue_io.write_s3(df, str(opts["path"]), format or "", dict(format_options or {}),
                             list(opts.get("partitionKeys") or []))
        elif kind in glue_io.JDBC_TYPES:
            glue_io.write_jdbc(df, glue_io.options_jdbc(kind, opts))
        else:
            raise UnsupportedGlueAPI(f"GlueContext.write_dynamic_frame.from_options(connection_type="
                                     f"{connection_type!r})")
        return frame

    def from_catalog(self, frame: DynamicFrame, database: str | None = None, table_name: str | None = None,
                     redshift_tmp_dir: str = "", transformation_ctx: str = "",
                     additional_options: Mapping[str, Any] | None = None, catalog_id: str | None = None,
                     name_space: str | None = None, **kwargs: Any) -> DynamicFrame:
        from lineagelab.spark_local import glue_io

        database = database or name_space
        if not database or not table_name:
            raise ValueError("write_dynamic_frame.from_catalog needs database and table_name")
        extra = dict(additional_options or {})
        glue_io.write_catalog(_df(frame), database, table_name, list(extra.get("partitionKeys") or []))
        return frame

    def from_jdbc_conf(self, frame: DynamicFrame, catalog_connection: str,
                       connection_options: Mapping[str, Any] | None = None, redshift_tmp_dir: str = "",
                       transformation_ctx: str = "", catalog_id: str | None = None) -> DynamicFrame:
        from lineagelab.spark_local import glue_io

        opts = {**dict(connection_options or {}), "connectionName": catalog_connection,
                "useConnectionProperties": "true"}
        glue_io.write_jdbc(_df(frame), glue_io.options_jdbc("jdbc", opts))
        return frame

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedGlueAPI(f"GlueContext.write_dynamic_frame.{name}")


def _df(frame: Any) -> Any:
    """A DynamicFrame's DataFrame (a DataFrame passes as it is, as Glue's writers accept both)."""
    return frame.toDF() if isinstance(frame, DynamicFrame) else frame

