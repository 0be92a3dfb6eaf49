"""The plan -> column lineage engine on a saved Spark 4 plan, without a JVM.

The plan (``fixtures/spark_plan_window_case_union.json``, ``LogicalPlan.toJSON()`` of a real session) is::

    att = spark.read.csv(...)                   # EmployeeID, Date, Absent, OvertimeHours
    df = (att.filter(Absent == False)
             .withColumn("ot2", when(OvertimeHours > 2, OvertimeHours * 2).otherwise(0))
             .withColumn("rk", rank().over(Window.partitionBy("Date").orderBy("OvertimeHours")))
             .groupBy("EmployeeID").agg(sum("ot2").alias("tot"), count("*").alias("n"), max("rk").alias("mrk")))
    df.unionByName(df)
"""

from __future__ import annotations

import json
from pathlib import Path

from lineagelab.spark_local.plan import Tx, analyze, compose, tree

PLAN = json.loads((Path(__file__).parent / "fixtures" / "spark_plan_window_case_union.json").read_text())


def _named() -> tuple[dict[str, dict[str, set[Tx]]], dict[str, set[Tx]]]:
    """Column and dataset lineage with exprIds replaced by the source column names."""
    lin = analyze(tree(PLAN))
    names = {a.id: a.name for leaf in lin.leaves for a in leaf.output}

    def by_name(deps: dict[int, set[Tx]]) -> dict[str, set[Tx]]:
        out: dict[str, set[Tx]] = {}
        for src, txs in deps.items():
            out.setdefault(names[src], set()).update(txs)
        return out

    return {a.name: by_name(lin.sources(a.id)) for a in lin.output}, by_name(lin.dataset)


def test_output_columns_and_their_sources() -> None:
    lin = analyze(tree(PLAN))
    assert [a.name for a in lin.output] == ["EmployeeID", "tot", "n", "mrk"]
    assert len(lin.leaves) == 2  # the union's two branches read the same file
    cols, _ = _named()
    assert cols["EmployeeID"] == {"EmployeeID": {Tx("DIRECT", "IDENTITY")}}
    # sum(CASE WHEN OvertimeHours > 2 THEN OvertimeHours * 2 ELSE 0 END)
    assert cols["tot"] == {"OvertimeHours": {Tx("DIRECT", "AGGREGATION"), Tx("INDIRECT", "CONDITIONAL")}}
    assert cols["n"] == {}  # count(*) reads no column
    # max(rank() OVER (PARTITION BY Date ORDER BY OvertimeHours)): the keys shape the column, no value flows
    assert cols["mrk"] == {"OvertimeHours": {Tx("INDIRECT", "WINDOW")}, "Date": {Tx("INDIRECT", "WINDOW")}}


def test_dataset_wide_dependencies() -> None:
    _, dataset = _named()
    # window keys belong to the windowed column (mrk), not to the dataset
    assert dataset == {"Absent": {Tx("INDIRECT", "FILTER")},
                       "EmployeeID": {Tx("INDIRECT", "GROUP_BY")}}


def test_composition_rules() -> None:
    ident, trans, agg = Tx("DIRECT", "IDENTITY"), Tx("DIRECT", "TRANSFORMATION"), Tx("DIRECT", "AGGREGATION")
    assert compose(ident, trans) == trans and compose(trans, ident) == trans
    assert compose(trans, agg) == agg and compose(agg, ident) == agg
    assert compose(Tx("INDIRECT", "JOIN"), agg) == Tx("INDIRECT", "JOIN")  # INDIRECT wins along a path
    assert compose(agg, Tx("INDIRECT", "FILTER")) == Tx("INDIRECT", "FILTER")
    assert compose(Tx("DIRECT", "TRANSFORMATION", True), ident).masking  # masking is OR-ed


def test_official_jar_takes_over_capture_when_present(tmp_path: Path) -> None:
    """With openlineage-spark on the classpath its listener stays and writes to a file the run reads back."""
    from lineagelab.spark_local.session import LISTENER, Notes, listener_conf

    conf = {"spark.extraListeners": LISTENER, "spark.openlineage.transport.type": "amazon_datazone_api"}
    ours = listener_conf(conf, ["/usr/share/java/mariadb-java-client.jar"], tmp_path, "job", Notes())
    assert "spark.extraListeners" not in ours  # the class is not here: our capture stands in
    notes = Notes()
    theirs = listener_conf(conf, ["/opt/jars/openlineage-spark_2.12-1.25.0.jar"], tmp_path, "my job", notes)
    assert theirs["spark.extraListeners"] == LISTENER
    assert theirs["spark.openlineage.transport.type"] == "file"
    assert theirs["spark.openlineage.transport.location"] == str(tmp_path / "spark-events" / "my_job.ndjson")
    assert notes.lines == ["using the official OpenLineage listener from /opt/jars/openlineage-spark_2.12-1.25.0.jar"]
    http = listener_conf({**conf, "spark.openlineage.transport.type": "http"}, ["/x/openlineage-spark.jar"],
                         tmp_path, "j", Notes())
    assert http["spark.openlineage.transport.type"] == "http"  # a collector URL the user chose stays
