"""SQL column lineage (no database): the conventions the README states."""

from __future__ import annotations

from lineagelab.sql.lineage import Source, analyze, compose

Edges = dict[str, dict[tuple[str, str], tuple[str, str]]]


def lineage(sql: str, catalog: dict | None = None, dialect: str = "redshift") -> Edges:
    (stmt,) = analyze(sql, dialect, catalog)
    assert stmt.error is None, stmt.error
    return {c.target: {(s.table, s.column): t for s, t in c.sources.items()} for c in stmt.columns}


def test_transformation_types() -> None:
    cols = lineage("""INSERT INTO t (a, b, c, d) SELECT x, x + y, sum(z) OVER (PARTITION BY p ORDER BY o),
                      CASE WHEN k > 0 THEN v ELSE 0 END FROM s WHERE f = 1""")
    assert cols["a"] == {("s", "x"): ("DIRECT", "IDENTITY")}
    assert cols["b"] == {("s", "x"): ("DIRECT", "TRANSFORMATION"), ("s", "y"): ("DIRECT", "TRANSFORMATION")}
    assert cols["c"] == {("s", "z"): ("DIRECT", "AGGREGATION"), ("s", "p"): ("INDIRECT", "WINDOW"),
                         ("s", "o"): ("INDIRECT", "WINDOW")}
    assert cols["d"] == {("s", "k"): ("INDIRECT", "CONDITIONAL"), ("s", "v"): ("DIRECT", "TRANSFORMATION")}


def test_ctes_subqueries_and_type_combination() -> None:
    cols = lineage("""CREATE TABLE out AS WITH agg AS (SELECT id, max(v) AS m FROM raw.src GROUP BY id)
                      SELECT a.id, q.m AS top FROM agg a JOIN (SELECT m FROM agg) q ON true""")
    assert cols["id"] == {("raw.src", "id"): ("DIRECT", "IDENTITY")}
    assert cols["top"] == {("raw.src", "v"): ("DIRECT", "AGGREGATION")}  # identity of an aggregation


def test_star_expansion_from_catalog_and_dataset_dependencies() -> None:
    catalog = {"public": {"employee": {"employeeid": "varchar", "name": "varchar"},
                          "absent": {"employeeid": "varchar", "absent": "boolean"}}}
    (stmt,) = analyze("""CREATE TABLE public.ewa AS SELECT e.*, a.absent FROM public.employee e
                         JOIN public.absent a ON e.employeeid = a.employeeid WHERE a.absent GROUP BY 1, 2, 3""",
                      "redshift", catalog)
    assert [c.target for c in stmt.columns] == ["employeeid", "name", "absent"]
    assert stmt.dataset[Source("public.employee", "employeeid")] == ("INDIRECT", "JOIN")
    assert stmt.dataset[Source("public.absent", "absent")] == ("INDIRECT", "FILTER")


def test_statements_and_errors_are_located() -> None:
    stmts = analyze("SELECT 1;\n\nINSERT INTO t SELECT a FROM;\nINSERT INTO u SELECT b FROM v;", "redshift")
    assert [s.line for s in stmts] == [1, 3, 4]
    assert stmts[1].error is not None and stmts[1].error.startswith("statement 2 (line 3, column")
    assert stmts[2].error is None and stmts[2].inputs == ["v"] and stmts[2].outputs == ["u"]


def test_redshift_statement_kinds() -> None:
    sql = """COPY sales FROM 's3://bucket/sales/' IAM_ROLE 'arn:aws:iam::1:role/r' FORMAT AS PARQUET;
             UNLOAD ('SELECT id, amount FROM sales') TO 's3://bucket/out/sales_' IAM_ROLE 'arn:aws:iam::1:role/r';
             MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v
               WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v);
             UPDATE t SET v = s.w FROM s WHERE t.id = s.id;
             DELETE FROM t USING s WHERE t.id = s.id;
             ALTER TABLE t APPEND FROM staging;
             ALTER TABLE t RENAME TO t2;
             SELECT id INTO newt FROM t2"""
    got = [(s.kind, s.inputs, s.outputs) for s in analyze(sql, "redshift")]
    assert got == [
        ("COPY", ["s3://bucket/sales/"], ["sales"]),
        ("UNLOAD", ["sales"], ["s3://bucket/out/sales_"]),
        ("MERGE", ["s"], ["t"]),
        ("UPDATE", ["s"], ["t"]),
        ("DELETE", ["s"], ["t"]),
        ("ALTER_APPEND", ["staging"], ["t"]),
        ("ALTER_RENAME", ["t"], ["t2"]),
        ("SELECT_INTO", ["t2"], ["newt"]),
    ]


def test_unused_cte_tables_are_not_inputs() -> None:
    (stmt,) = analyze("WITH unused AS (SELECT * FROM ghost), used AS (SELECT a FROM real) INSERT INTO t "
                      "SELECT a FROM used", "redshift")
    assert stmt.inputs == ["real"]


def test_script_composition_looks_through_intermediate_tables() -> None:
    script = compose(analyze("CREATE TABLE tmp AS SELECT a, b FROM src; INSERT INTO final SELECT a + b AS c FROM tmp",
                             "redshift"))
    assert script.inputs == ["src"] and script.outputs == ["final"]
    assert script.columns[("final", "c")] == {Source("src", "a"): ("DIRECT", "TRANSFORMATION"),
                                              Source("src", "b"): ("DIRECT", "TRANSFORMATION")}
