"""openlineage-spark's own column-lineage cases, run on real local Spark and read through ``lineage.last()``.

Ported from the OpenLineage repository (integration/spark/app/src/test/java/io/openlineage/spark/agent/column/:
ColumnLineageWithTransformationTypesTest, ColumnLineageWithTransformationTypesOnlyFieldDependenciesTest, and the
container expectations pysparkCLLEnd.json / pysparkCTASWithColumnLineageEnd.json). Upstream computes the facet of a
query; here the query's result is written, so the write's COMPLETE event carries it. Each case asserts what upstream
asserts: an input field with a transformation (type, subtype, masking) under an output column or in the dataset-wide
list, and the counts of transformations where upstream counts them. Descriptions are not compared (we emit none).
Tables are parquet tables at ``.../column_transformation/tN`` as upstream's are.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_INDIRECT = {"FILTER", "JOIN", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL"}


@dataclass(frozen=True)
class Case:
    id: str
    tables: dict[str, str]  # name -> "a int, b string"
    query: str
    # "out <- t1.a IDENTITY" (a column's input), "* <- t1.b FILTER" (dataset-wide, or every column when dataset
    # lineage is off), "a,b <- t1.a JOIN" (each of those columns); a trailing " masked" sets masking
    expect: tuple[str, ...]
    columns: int | None = None  # upstream's countColumnDependencies
    dataset: int | None = None  # upstream's countDatasetDependencies
    dataset_lineage: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


T1_AB = {"t1": "a int, b int"}
CTE = ("WITH tmp as (SELECT * FROM t1 where b = '1'),\n tmp2 as (SELECT * FROM t2 where c = 1),\n"
       " tmp3 as (SELECT tmp.a, b, c from tmp join tmp2 on tmp.a = tmp2.a)\n"
       " SELECT tmp3.a as a, b, c, d FROM tmp3 join t3 on tmp3.a = t3.a order by d")
CTE_TABLES = {"t1": "a int, b string", "t2": "a int, c int", "t3": "a int, d int"}
MASKING = "SELECT a as i, a + 1 as t, sha1(string(a + 1)) as mt, sum(b) as a, sha1(string(sum(b))) as ma " \
          "FROM t1 GROUP BY a"

UPSTREAM = [
    # ColumnLineageWithTransformationTypesTest (datasetLineageEnabled=true)
    Case("simpleQueryOnlyIdentity", {"t1": "a int"}, "SELECT a FROM t1", ("a <- t1.a IDENTITY",), 1, 0),
    Case("simpleQueryOnlyTransform", T1_AB, "SELECT concat(a, 'test') AS a, a+b as b FROM t1",
         ("a <- t1.a TRANSFORMATION", "b <- t1.a TRANSFORMATION", "b <- t1.b TRANSFORMATION"), 3, 0),
    Case("simpleQueryOnlyAggregation", {"t1": "a int"}, "SELECT count(a) AS a FROM t1",
         ("a <- t1.a AGGREGATION masked",), 1, 0),
    Case("simpleQueryIndirect", T1_AB, "SELECT a FROM t1 WHERE b > 1",
         ("a <- t1.a IDENTITY", "* <- t1.b FILTER"), 1, 1),
    Case("simpleQueryMultipleIndirect", {"t1": "a int, b int, c int"},
         "SELECT a, c FROM t1 WHERE b > 1 GROUP BY a, c ORDER BY c",
         ("a <- t1.a IDENTITY", "c <- t1.c IDENTITY", "* <- t1.a GROUP_BY", "* <- t1.b FILTER",
          "* <- t1.c GROUP_BY", "* <- t1.c SORT"), 2, 4),
    Case("simpleQueryPriorityDirect", T1_AB,
         "SELECT a as i, a + 1 as t, sum(b) as a, 2 * sum(b) as ta, 2 * sum(b + 3) as tat FROM t1 GROUP BY a",
         ("i <- t1.a IDENTITY", "t <- t1.a TRANSFORMATION", "a <- t1.b AGGREGATION", "ta <- t1.b AGGREGATION",
          "tat <- t1.b AGGREGATION", "* <- t1.a GROUP_BY"), 5, 1),
    Case("simpleQueryMasking", T1_AB, MASKING,
         ("i <- t1.a IDENTITY", "t <- t1.a TRANSFORMATION", "mt <- t1.a TRANSFORMATION masked",
          "a <- t1.b AGGREGATION", "ma <- t1.b AGGREGATION masked", "* <- t1.a GROUP_BY"), 5, 1),
    Case("simpleQueryWithCaseWhenConditional", T1_AB,
         "SELECT CASE WHEN b > 1 THEN a ELSE a + b END AS cond FROM t1",
         ("cond <- t1.a IDENTITY", "cond <- t1.a TRANSFORMATION", "cond <- t1.b TRANSFORMATION",
          "cond <- t1.b CONDITIONAL"), 4, 0),
    Case("simpleQueryWithIfConditional", T1_AB, "SELECT IF(b > 1, a, a + b) AS cond FROM t1",
         ("cond <- t1.a IDENTITY", "cond <- t1.a TRANSFORMATION", "cond <- t1.b TRANSFORMATION",
          "cond <- t1.b CONDITIONAL"), 4, 0),
    Case("simpleQueryExplode", {"t1": "a string"}, "SELECT a FROM (SELECT explode(split(a, ' ')) AS a FROM t1)",
         ("a <- t1.a TRANSFORMATION",), 1, 0),
    Case("simpleQueryRank", {"t1": "a string, b string, c int"},
         "SELECT a, RANK() OVER (PARTITION BY b ORDER BY c) as rank FROM t1;",
         ("a <- t1.a IDENTITY", "rank <- t1.b WINDOW", "rank <- t1.c WINDOW"), 3, 0),
    Case("simpleQueryWindowedAggregate", {"t1": "a int, b string, c int"},
         "SELECT sum(a) OVER (PARTITION BY b ORDER BY c) AS s FROM t1;",
         ("s <- t1.a AGGREGATION", "s <- t1.b WINDOW", "s <- t1.c WINDOW"), 3, 0),
    Case("simpleQueryWindowedTransformation", {"t1": "a int, b string, c int"},
         "SELECT LAG(a, 3, 0) OVER (PARTITION BY b ORDER BY c) AS l FROM t1;",
         ("l <- t1.a TRANSFORMATION", "l <- t1.b WINDOW", "l <- t1.c WINDOW"), 3, 0),
    Case("complexQueryCTEJoinsFilter", CTE_TABLES, CTE,
         ("a <- t1.a IDENTITY", "b <- t1.b IDENTITY", "c <- t2.c IDENTITY", "d <- t3.d IDENTITY",
          "* <- t1.a JOIN", "* <- t2.a JOIN", "* <- t3.a JOIN", "* <- t1.b FILTER", "* <- t2.c FILTER",
          "* <- t3.d SORT"), 4),
    Case("union", {"t1": "a int, b string", "t2": "a int, c string"},
         "SELECT a, b, 'table1' as source\nFROM t1\nUNION ALL\nSELECT a, c, 'table2' as source\nFROM t2",
         ("a <- t1.a IDENTITY", "a <- t2.a IDENTITY", "b <- t1.b IDENTITY", "b <- t2.c IDENTITY"), 4, 0),
    Case("simpleQueryMultipleJoinsToSameTable",
         {"t1": "oder_id int, order_date int, shipped_date int", "t2": "date_id int"},
         "SELECT t1.oder_id, t2alias1.date_id as order_date, t2alias2.date_id as shipped_date FROM t1 "
         "LEFT JOIN t2 t2alias1 ON t1.order_date = t2alias1.date_id "
         "LEFT JOIN t2 t2alias2 ON t1.shipped_date = t2alias2.date_id "
         "WHERE t1.order_date IS NOT NULL AND t1.shipped_date IS NOT NULL", (), 3, 6),
    # ColumnLineageWithTransformationTypesOnlyFieldDependenciesTest (datasetLineageEnabled=false)
    Case("onlyFields.simpleQueryIndirect", T1_AB, "SELECT a FROM t1 WHERE b > 1",
         ("a <- t1.a IDENTITY", "a <- t1.b FILTER"), 2, 0, dataset_lineage=False),
    Case("onlyFields.simpleQueryMultipleIndirect", {"t1": "a int, b int, c int"},
         "SELECT a FROM t1 WHERE b > 1 GROUP BY a, c ORDER BY c",
         ("a <- t1.a IDENTITY", "a <- t1.a GROUP_BY", "a <- t1.b FILTER", "a <- t1.c GROUP_BY", "a <- t1.c SORT"),
         5, 0, dataset_lineage=False),
    Case("onlyFields.simpleQueryMasking", T1_AB, MASKING,
         ("i <- t1.a IDENTITY", "i <- t1.a GROUP_BY", "t <- t1.a TRANSFORMATION", "t <- t1.a GROUP_BY",
          "mt <- t1.a TRANSFORMATION masked", "mt <- t1.a GROUP_BY", "a <- t1.b AGGREGATION", "a <- t1.a GROUP_BY",
          "ma <- t1.b AGGREGATION masked", "ma <- t1.a GROUP_BY"), 10, 0, dataset_lineage=False),
    Case("onlyFields.complexQueryCTEJoinsFilter", CTE_TABLES, CTE,
         ("a <- t1.a IDENTITY", "b <- t1.b IDENTITY", "c <- t2.c IDENTITY", "d <- t3.d IDENTITY",
          "a,b,c,d <- t1.a JOIN", "a,b,c,d <- t2.a JOIN", "a,b,c,d <- t3.a JOIN", "a,b,c,d <- t1.b FILTER",
          "a,b,c,d <- t2.c FILTER", "a,b,c,d <- t3.d SORT"), None, 0, dataset_lineage=False),
    # pysparkCLLEnd.json (the container test: a CTAS over a join, dataset lineage off)
    Case("pysparkCLL", {"cll_source1": "a int, b string", "cll_source2": "a int, c int"},
         "SELECT t1.a as ident, CONCAT(b, 'test') as trans, SUM(c) as agg FROM cll_source1 t1 "
         "JOIN cll_source2 t2 ON t1.a = t2.a GROUP BY t1.a, b",
         ("ident <- cll_source1.a IDENTITY", "ident,trans,agg <- cll_source1.a GROUP_BY",
          "ident,trans,agg <- cll_source1.a JOIN", "ident,trans,agg <- cll_source1.a FILTER",
          "ident,trans,agg <- cll_source1.b GROUP_BY", "ident,trans,agg <- cll_source2.a JOIN",
          "ident,trans,agg <- cll_source2.a FILTER", "trans <- cll_source1.b TRANSFORMATION",
          "agg <- cll_source2.c AGGREGATION"),
         dataset_lineage=False, extra={"ctas": "tbl1", "schema": [("ident", "integer"), ("trans", "string"),
                                                                  ("agg", "long")]}),
    # pysparkCTASWithColumnLineageEnd.json
    Case("pysparkCTASWithColumnLineage", {"temp": "a long, b long"}, "SELECT a, b FROM temp",
         ("a <- temp.a IDENTITY", "b <- temp.b IDENTITY"),
         extra={"ctas": "tbl1", "schema": [("a", "long"), ("b", "long")]}),
]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cll")


@pytest.fixture
def tables(lineage_spark: Any, data_root: Path) -> Iterator[Any]:
    made: list[str] = []

    def create(specs: dict[str, str]) -> None:
        for name, schema in specs.items():
            location = data_root / "column_transformation" / name
            lineage_spark.sql(f"DROP TABLE IF EXISTS {name}")
            shutil.rmtree(location, ignore_errors=True)
            lineage_spark.sql(f"CREATE TABLE {name} ({schema}) USING parquet LOCATION '{location}'")
            values = ", ".join("'1'" if c.split()[1] == "string" else "1" for c in schema.split(", "))
            lineage_spark.sql(f"INSERT INTO {name} VALUES ({values})")
            made.append(name)

    yield create
    for name in made:
        lineage_spark.sql(f"DROP TABLE IF EXISTS {name}")


def _facet(run: Any) -> dict[str, Any]:
    [out] = run.event["outputs"]
    facet: dict[str, Any] = out["facets"]["columnLineage"]
    return facet


def _has(items: list[dict[str, Any]], table: str, fld: str, subtype: str, masked: bool) -> bool:
    typ = "INDIRECT" if subtype in _INDIRECT else "DIRECT"
    return any(i["namespace"] == "file" and i["name"].endswith(f"column_transformation/{table}") and
               i["field"].lower() == fld.lower() and
               any((t["type"], t["subtype"], bool(t.get("masking", False))) == (typ, subtype, masked)
                   for t in i.get("transformations", []))
               for i in items)


def _count(items: list[dict[str, Any]]) -> int:
    return sum(len(i.get("transformations", [])) for i in items)


def check(case: Case, facet: dict[str, Any]) -> None:
    fields = {k: v["inputFields"] for k, v in facet.get("fields", {}).items()}
    dataset = facet.get("dataset", []) or []
    for line in case.expect:
        outs, _, rest = line.partition(" <- ")
        source, subtype, *flag = rest.split()
        table, fld = source.split(".")
        masked = flag == ["masked"]
        if outs == "*":
            where = dataset if case.dataset_lineage else None
            if where is None:
                for out, items in fields.items():
                    assert _has(items, table, fld, subtype, masked), f"{out}: {line}; has {items}"
            else:
                assert _has(where, table, fld, subtype, masked), f"dataset: {line}; has {where}"
            continue
        for out in outs.split(","):
            assert out in fields, f"no lineage for output column {out!r}: {sorted(fields)}"
            assert _has(fields[out], table, fld, subtype, masked), f"{out}: {line}; has {fields[out]}"
    if case.columns is not None:
        assert sum(_count(v) for v in fields.values()) == case.columns, fields
    if case.dataset is not None:
        assert _count(dataset) == case.dataset, dataset


@pytest.mark.parametrize("case", UPSTREAM, ids=[c.id for c in UPSTREAM])
def test_upstream_column_lineage(case: Case, lineage_spark: Any, lineage: Any, tables: Any,
                                 data_root: Path) -> None:
    tables(case.tables)
    lineage.configure(dataset_lineage=case.dataset_lineage)
    ctas = case.extra.get("ctas")
    if ctas:
        location = data_root / "column_transformation" / ctas
        lineage_spark.sql(f"DROP TABLE IF EXISTS {ctas}")
        shutil.rmtree(location, ignore_errors=True)
        lineage_spark.sql(f"CREATE TABLE {ctas} USING parquet LOCATION '{location}' AS {case.query}")
    else:
        lineage_spark.sql(case.query).write.mode("overwrite").parquet(str(data_root / "out" / case.id))
    run = lineage.last()
    check(case, _facet(run))
    if ctas:
        lineage_spark.sql(f"DROP TABLE IF EXISTS {ctas}")
        [out] = run.event["outputs"]
        assert out["name"].endswith(f"column_transformation/{ctas}")
        assert [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]] == case.extra["schema"]
        assert out["facets"]["lifecycleStateChange"]["lifecycleStateChange"] == "CREATE"


# -- issue 21's classes, each its own case (beyond upstream's) ----------------------------------------------------
ISSUE = [
    Case("coalesce", T1_AB, "SELECT coalesce(a, b) AS v FROM t1",
         ("v <- t1.a IDENTITY", "v <- t1.a CONDITIONAL", "v <- t1.b IDENTITY", "v <- t1.b CONDITIONAL"), 4, 0),
    Case("nvl", T1_AB, "SELECT nvl(a, b) AS v FROM t1",
         ("v <- t1.a IDENTITY", "v <- t1.a CONDITIONAL", "v <- t1.b IDENTITY", "v <- t1.b CONDITIONAL"), 4, 0),
    Case("nullif", T1_AB, "SELECT nullif(a, b) AS v FROM t1",
         ("v <- t1.a IDENTITY", "v <- t1.a CONDITIONAL", "v <- t1.b CONDITIONAL"), 3, 0),
    Case("distinct", T1_AB, "SELECT DISTINCT a, b FROM t1",
         ("a <- t1.a IDENTITY", "b <- t1.b IDENTITY", "* <- t1.a GROUP_BY", "* <- t1.b GROUP_BY"), 2, 2),
    Case("maskingStaysOnItsColumn", T1_AB, "SELECT a, count(a) AS n FROM t1 GROUP BY a",
         ("a <- t1.a IDENTITY", "n <- t1.a AGGREGATION masked", "* <- t1.a GROUP_BY"), 2, 1),
    Case("cteKeepsSources", T1_AB, "WITH x AS (SELECT a, b + 1 AS c FROM t1) SELECT a, c FROM x",
         ("a <- t1.a IDENTITY", "c <- t1.b TRANSFORMATION"), 2, 0),
    Case("inferredJoinFilter", {"t1": "a int, b int", "t2": "a int, c int"},
         "SELECT t1.b, t2.c FROM t1 JOIN t2 ON t1.a = t2.a",
         ("b <- t1.b IDENTITY", "c <- t2.c IDENTITY", "* <- t1.a JOIN", "* <- t2.a JOIN", "* <- t1.a FILTER",
          "* <- t2.a FILTER"), 2, 4),
]


@pytest.mark.parametrize("case", ISSUE, ids=[c.id for c in ISSUE])
def test_issue_classes(case: Case, lineage_spark: Any, lineage: Any, tables: Any, data_root: Path) -> None:
    tables(case.tables)
    lineage_spark.sql(case.query).write.mode("overwrite").parquet(str(data_root / "out" / case.id))
    check(case, _facet(lineage.last()))


def test_save_as_table_is_one_run_with_lineage(lineage_spark: Any, lineage: Any, tables: Any) -> None:
    from pyspark.sql import functions as F

    tables({"t1": "a int, b string"})
    lineage_spark.sql("DROP TABLE IF EXISTS sat_out")
    df = lineage_spark.table("t1").select("a", F.lower(F.col("b")).alias("b_code"))
    df.write.mode("overwrite").saveAsTable("sat_out")
    runs = [w for w in lineage.writes() if "t1" not in w.job]  # the table set-up's INSERT is a run of its own
    try:
        assert [w.job for w in runs] == [
            "pytest.execute_create_data_source_table_as_select_command.default_sat_out"], [w.job for w in runs]
        run = lineage.last()
        assert run.job == runs[0].job
        run.assert_column("a", "column_transformation/t1::a", "IDENTITY")
        run.assert_column("b_code", "column_transformation/t1::b", "TRANSFORMATION")
        [out] = run.event["outputs"]
        assert [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]] == [("a", "integer"),
                                                                                     ("b_code", "string")]
    finally:
        lineage_spark.sql("DROP TABLE IF EXISTS sat_out")
