"""The awsglue DynamicFrame API on real local Spark: each transform's rows and column lineage.

Scripts run through the runner on the session-wide SparkSession (``lineage_spark``), as ``glue run-job`` runs them.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from lineagelab.spark_local import runner
from lineagelab.testing.lineage import Edge, WriteLineage, writes

B = "s3://gluetest"
PEOPLE = f"{B}/people.csv"
HEAD = "from awsglue.transforms import *\nfrom awsglue.dynamicframe import DynamicFrame\n"
READ = ("people = glueContext.create_dynamic_frame.from_options(connection_type='s3', format='csv', "
        "format_options={'withHeader': True}, connection_options={'paths': ['s3://gluetest/people.csv']})\n")


def _out(key: str) -> str:
    return f"\nglueContext.write_dynamic_frame.from_options(frame={key}, connection_type='s3', format='parquet', " \
           f"connection_options={{'path': 's3://gluetest/out/{key}/'}})\n"


@pytest.fixture(scope="module")
def lake(lineagelab_profile: Any, lineage_spark: Any) -> Path:
    root = Path(lineagelab_profile.lake) / "gluetest"
    root.mkdir(parents=True, exist_ok=True)
    (root / "people.csv").write_text("id,name,age,city,note\n1,Ann,34,Oslo,\n2,Bob,28,Rome,\n3,Cy,41,Oslo,\n")
    (root / "orders.csv").write_text("order_id,person_id,amount\n10,1,5.5\n11,3,7.25\n12,3,1.0\n")
    return root


def _job(tmp_path: Path, profile: Any, body: str, name: str = "dyf") -> runner.RunResult:
    script = tmp_path / f"{name}.py"
    script.write_text(HEAD + textwrap.dedent(body))
    result = runner.run(runner.read_script(script, profile.account), app_name=name, profile=profile)
    if result.error is not None:
        raise result.error
    return result


def _rows(spark: Any, lake: Path, key: str) -> list[dict[str, Any]]:
    df = spark.read.parquet(str(lake / "out" / key))
    return sorted((r.asDict(recursive=True) for r in df.collect()), key=json.dumps)


def _by_output(result: runner.RunResult) -> dict[str, WriteLineage]:
    return {next(iter(w.outputs)).rsplit("/", 1)[-1]: w for w in writes(result.events)}


def _e(field: str, sub: str = "IDENTITY", typ: str = "DIRECT", src: str = PEOPLE) -> Edge:
    return Edge(src, field, typ, sub)


def test_apply_mapping_renames_are_identity_and_casts_transformation(lineage_spark: Any, lineagelab_profile: Any,
                                                                     lake: Path, tmp_path: Path) -> None:
    body = READ + ("mapped = ApplyMapping.apply(frame=people, mappings=[('id', 'int', 'person_id', 'long'), "
                   "('name', 'string', 'full_name', 'string'), ('missing', 'string', 'x', 'string')], "
                   "transformation_ctx='mapped')" + _out("mapped"))
    run = _by_output(_job(tmp_path, lineagelab_profile, body))["mapped"]
    assert _rows(lineage_spark, lake, "mapped") == [{"person_id": 1, "full_name": "Ann"},
                                                    {"person_id": 2, "full_name": "Bob"},
                                                    {"person_id": 3, "full_name": "Cy"}]
    assert run.inputs == {PEOPLE} and run.outputs == {f"{B}/out/mapped"}
    assert run.column("full_name") == {_e("name")}
    assert run.column("person_id") == {_e("id", "TRANSFORMATION")}
    assert set(run.columns) == {"person_id", "full_name"}


def test_select_drop_rename_and_drop_null_fields(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                 tmp_path: Path) -> None:
    body = READ + (
        "sel = SelectFields.apply(frame=people, paths=['name', 'city'])\n"
        "drp = DropFields.apply(frame=people, paths=['age', 'note'])\n"
        "ren = RenameField.apply(frame=sel, old_name='city', new_name='town')\n"
        "nonull = DropNullFields.apply(frame=people)\n"
        "assert sel.count() == 3 and [f.name for f in nonull.schema().fields] == ['id', 'name', 'age', 'city']\n"
        + _out("sel") + _out("drp") + _out("ren") + _out("nonull"))
    runs = _by_output(_job(tmp_path, lineagelab_profile, body))
    assert _rows(lineage_spark, lake, "sel")[0] == {"name": "Ann", "city": "Oslo"}
    assert _rows(lineage_spark, lake, "drp")[0] == {"id": 1, "name": "Ann", "city": "Oslo"}
    assert _rows(lineage_spark, lake, "ren")[0] == {"name": "Ann", "town": "Oslo"}
    assert set(_rows(lineage_spark, lake, "nonull")[0]) == {"id", "name", "age", "city"}
    assert runs["sel"].columns == {"name": {_e("name")}, "city": {_e("city")}}
    assert runs["drp"].columns == {"id": {_e("id")}, "name": {_e("name")}, "city": {_e("city")}}
    assert runs["ren"].columns == {"name": {_e("name")}, "town": {_e("city")}}
    assert runs["nonull"].column("age") == {_e("age")}


def test_resolve_choice_cast_project_make_cols_make_struct(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                           tmp_path: Path) -> None:
    body = READ + ("rc = ResolveChoice.apply(frame=people, specs=[('age', 'cast:string'), ('id', 'project:long'), "
                   "('name', 'make_cols'), ('city', 'make_struct')])\n"
                   "rc = rc.drop_fields(['note'])" + _out("rc"))
    run = _by_output(_job(tmp_path, lineagelab_profile, body))["rc"]
    rows = _rows(lineage_spark, lake, "rc")
    assert rows[0] == {"id": 1, "name": "Ann", "age": "34", "city": {"string": "Oslo"}}
    schema = {f.name: f.dataType.simpleString() for f in lineage_spark.read.parquet(str(lake / "out/rc")).schema}
    assert schema == {"id": "bigint", "name": "string", "age": "string", "city": "struct<string:string>"}
    assert run.column("age") == {_e("age", "TRANSFORMATION")}
    assert run.column("id") == {_e("id", "TRANSFORMATION")}
    assert run.column("name") == {_e("name")}
    assert run.column("city") == {_e("city", "TRANSFORMATION")}


def test_filter_with_a_python_function(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                       tmp_path: Path) -> None:
    body = READ + ("people = people.drop_fields(['note'])\n"
                   "older = Filter.apply(frame=people, f=lambda r: r['age'] > 30)\n" + _out("older"))
    older = _by_output(_job(tmp_path, lineagelab_profile, body))["older"]
    assert [r["name"] for r in _rows(lineage_spark, lake, "older")] == ["Ann", "Cy"]
    assert older.column("name") == {_e("name")}  # rows pass unchanged: the values are the inputs'
    assert older.dataset_dependencies == {_e(c, "FILTER", "INDIRECT") for c in ("id", "name", "age", "city")}


def test_map_with_a_python_function_is_opaque(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                              tmp_path: Path) -> None:
    pytest.importorskip("pandas", reason="Spark's mapInArrow needs pandas")
    body = READ + (
        "people = people.drop_fields(['note'])\n"
        "def shout(r):\n"
        "    r['name'] = r['name'].upper()\n"
        "    r['age2'] = r['age'] * 2\n"
        "    return r\n"
        "loud = Map.apply(frame=people, f=shout)\n" + _out("loud"))
    loud = _by_output(_job(tmp_path, lineagelab_profile, body))["loud"]
    assert _rows(lineage_spark, lake, "loud")[0] == {"id": 1, "name": "ANN", "age": 34, "city": "Oslo", "age2": 68}
    assert all(edges == set() for edges in loud.columns.values())  # no invented column edges
    assert loud.dataset_dependencies == {_e(c, "TRANSFORMATION", "INDIRECT") for c in ("id", "name", "age", "city")}


def test_join_union_split_fields_and_frame_methods(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    orders = f"{B}/orders.csv"
    body = READ + (
        "orders = glueContext.create_dynamic_frame.from_options(connection_type='s3', format='csv', "
        "format_options={'withHeader': True}, connection_options={'paths': ['s3://gluetest/orders.csv']}, "
        "transformation_ctx='orders')\n"
        "joined = Join.apply(frame1=people.select_fields(['id', 'name']), frame2=orders, keys1=['id'], "
        "keys2=['person_id'], transformation_ctx='joined').repartition(2).coalesce(1)\n"
        "both = Union.apply(frame1=people.select_fields(['name']), frame2=people.select_fields(['city'])"
        ".rename_field('city', 'name'))\n"
        "parts = SplitFields.apply(frame=people, paths=['id', 'name'], name1='ids', name2='rest')\n"
        "ids = SelectFromCollection.apply(dfc=parts, key='ids')\n"
        "assert sorted(parts.keys()) == ['ids', 'rest'] and parts['rest'].toDF().columns == ['age', 'city', 'note']\n"
        "assert joined.count() == 3 and ids.getNumPartitions() >= 1 and joined.errorsCount() == 0\n"
        "joined.show(1)\n" + _out("joined") + _out("both") + _out("ids"))
    runs = _by_output(_job(tmp_path, lineagelab_profile, body))
    printed = capsys.readouterr()
    assert '"order_id":' in printed.out
    assert printed.err.count("job bookmarks are not kept locally") == 1
    assert [(r["name"], r["order_id"]) for r in _rows(lineage_spark, lake, "joined")] == [
        ("Ann", 10), ("Cy", 11), ("Cy", 12)]
    j = runs["joined"]
    assert j.inputs == {PEOPLE, orders}
    assert j.column("amount") == {Edge(orders, "amount", "DIRECT", "IDENTITY")}
    # an inner join's keys: JOIN, and the not-null filters Spark's optimizer infers on both sides (as openlineage-spark)
    assert j.dataset_dependencies == {_e("id", "JOIN", "INDIRECT"), Edge(orders, "person_id", "INDIRECT", "JOIN"),
                                      _e("id", "FILTER", "INDIRECT"), Edge(orders, "person_id", "INDIRECT", "FILTER")}
    assert len(_rows(lineage_spark, lake, "both")) == 6
    assert runs["both"].column("name") == {_e("name"), _e("city")}
    assert runs["ids"].columns == {"id": {_e("id")}, "name": {_e("name")}}


def test_s3_formats_round_trip_with_partition_keys(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                   tmp_path: Path) -> None:
    body = READ + (
        "people = people.drop_fields(['note'])\n"
        "for fmt in ('csv', 'json', 'parquet', 'glueparquet', 'orc'):\n"
        "    glueContext.write_dynamic_frame.from_options(frame=people, connection_type='s3', format=fmt,\n"
        "        connection_options={'path': f's3://gluetest/fmt/{fmt}/', 'partitionKeys': ['city']})\n"
        "    back = glueContext.create_dynamic_frame.from_options(connection_type='s3', format=fmt if fmt != "
        "'glueparquet' else 'parquet',\n"
        "        connection_options={'paths': [f's3://gluetest/fmt/{fmt}/'], 'recurse': fmt != 'csv'},\n"
        "        format_options={'withHeader': True})\n"
        "    assert back.count() == 3, fmt\n"
        "raw = glueContext.create_data_frame.from_options(connection_type='s3', format='csv', "
        "connection_options={'paths': ['s3://gluetest/people.csv']})\n"
        "assert raw.columns[:2] == ['col0', 'col1'] and raw.count() == 4\n")
    runs = writes(_job(tmp_path, lineagelab_profile, body).events)
    assert [sorted(r.outputs) for r in runs] == [[f"{B}/fmt/{f}"] for f in ("csv", "json", "parquet", "glueparquet",
                                                                           "orc")]
    for r in runs:
        assert r.inputs == {PEOPLE} and r.column("age") == {_e("age")}
    assert sorted(p.name for p in (lake / "fmt" / "orc").iterdir() if p.is_dir()) == ["city=Oslo", "city=Rome"]


def test_jdbc_sources_and_sinks_by_connection_and_options(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                          tmp_path: Path) -> None:
    import psycopg
    import pymysql

    rs_url = "jdbc:redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439/dev"
    body = (
        "emp = glueContext.create_dynamic_frame.from_options(connection_type='mysql', connection_options="
        "{'useConnectionProperties': 'true', 'connectionName': 'connectionname', 'dbtable': 'employee'})\n"
        "small = ApplyMapping.apply(frame=emp, mappings=[('EmployeeID', 'string', 'emp_id', 'string'), "
        "('Salary', 'string', 'salary', 'double')])\n"
        "glueContext.write_dynamic_frame.from_jdbc_conf(frame=small, catalog_connection='connectionname', "
        "connection_options={'dbtable': 'glue_salaries', 'database': 'employeedb'})\n"
        f"glueContext.write_dynamic_frame.from_options(frame=small, connection_type='redshift', connection_options="
        f"{{'url': '{rs_url}', 'user': 'awsuser', 'password': 'Redshift-Secret-1', 'dbtable': 'public.glue_sal', "
        "'redshiftTmpDir': 's3://tmp/'})\n")
    result = _job(tmp_path, lineagelab_profile, body)
    my, rs = writes(result.events)
    mysql = "mysql://dbhost:3306/employeedb.employee"
    assert my.inputs == {mysql} and my.outputs == {"mysql://dbhost:3306/employeedb.glue_salaries"}
    assert my.column("emp_id") == {Edge(mysql, "EmployeeID", "DIRECT", "IDENTITY")}
    assert my.column("salary") == {Edge(mysql, "Salary", "DIRECT", "TRANSFORMATION")}
    assert rs.outputs == {"redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439"
                          "/dev.public.glue_sal"}
    text = json.dumps(result.events)
    assert "lineagelab-local" not in text and "Redshift-Secret-1" not in text
    my_db = lineagelab_profile.endpoints[0].databases["employeedb"]
    con = pymysql.connect(host="127.0.0.1", user="root", password="", database=my_db)
    with con.cursor() as cur:
        cur.execute("SELECT emp_id, salary FROM glue_salaries ORDER BY emp_id")
        assert cur.fetchall()[0] == ("E1000", 33002.0)
        cur.execute("DROP TABLE glue_salaries")
    con.close()
    pg_db = lineagelab_profile.endpoints[2].databases["dev"]
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{pg_db}", autocommit=True) as pg:
        assert pg.execute("SELECT count(*) FROM public.glue_sal").fetchone() == (3,)
        pg.execute("DROP TABLE public.glue_sal")


def test_unsupported_calls_still_name_themselves(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                 tmp_path: Path) -> None:
    for call, name in (("glueContext.create_dynamic_frame.from_rdd(None, 'x')",
                        "GlueContext.create_dynamic_frame.from_rdd"),
                       ("Relationalize.apply(frame=None, staging_path='s3://x/')", "transforms.Relationalize.apply"),
                       ("glueContext.forEachBatch(None, None)", "GlueContext.forEachBatch")):
        with pytest.raises(NotImplementedError, match=f"{name} is not supported"):
            _job(tmp_path, lineagelab_profile, call + "\n")


def test_save_as_table_updates_the_local_catalog(lineage_spark: Any, lineagelab_profile: Any, lake: Path,
                                                 tmp_path: Path) -> None:
    """A plain ``saveAsTable`` in a job registers its table where ``glue tables`` and ``from_catalog`` look."""
    from lineagelab.spark_local import catalog

    _job(tmp_path, lineagelab_profile, """
        spark.sql("CREATE DATABASE IF NOT EXISTS savedb")
        df = spark.createDataFrame([(1, "Ann")], "id int, name string")
        df.write.mode("overwrite").format("parquet").option("path", "s3://gluetest/saved/").saveAsTable("savedb.saved")
        """, name="saved")
    tables = {t.name: t for t in catalog.list_tables(lineage_spark, Path(lineagelab_profile.lake), "savedb")}
    assert [c.name for c in tables["saved"].columns] == ["id", "name"]
    assert tables["saved"].location.rstrip("/") == "s3://gluetest/saved"
