"""Graph queries over a real store of the seed scenarios."""

from __future__ import annotations

import copy
from typing import Any

import networkx as nx
import pytest

from lineagelab.events.identity import parse_time
from lineagelab.graph import diff as gdiff
from lineagelab.graph import render
from lineagelab.graph.memory import MemoryGraph
from lineagelab.graph.modes import Mode
from lineagelab.graph.resolve import AmbiguousNode, NodeNotFound, resolve
from lineagelab.graph.traverse import column_lineage, impact, table_lineage
from lineagelab.store.sources import Documents
from lineagelab.store.store import Store
from tests.test_store import ingest_docs

RS = "redshift://default-workgroup.123456789012.us-west-2.redshift-serverless.amazonaws.com:5439"
S3 = "s3://datazone-123456789012"
MYSQL = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"
GLUE_JOB = "default.lineageglue.execute_create_data_source_table_as_select_command.gluedbname_attendance_with_emp1"


@pytest.fixture
def seeded(store: Store, events: list[dict[str, Any]]) -> Store:
    ingest_docs(store, events)
    return store


def temporary(con: Any) -> list[str]:
    """Temporary tables of graph queries (the ingest keeps scratch tables of its own on the writer's connection)."""
    return [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND "
                                      "(starts_with(table_name, '_asof') OR starts_with(table_name, '_diff'))"
                                      ).fetchall()]


def keys(g: nx.DiGraph, kind: str | None = None) -> set[str]:
    return {d["key"] for _, d in g.nodes(data=True) if kind is None or d["kind"] == kind}


def test_resolve_by_identity_part_alias_and_column(seeded: Store) -> None:
    con = seeded.con
    assert resolve(con, f"{S3}/attendanceparquet").node.name == "attendanceparquet"
    # a unique part of a name, through the Glue ARN symlink, lands on the one (S3) node
    assert resolve(con, "attendance_with_emp1").node.key == f"{S3}/attendanceparquet"
    assert resolve(con, "arn:aws:glue:us-west-2:123456789012:table/gluedbname/attendance_with_emp1").node.key == \
        f"{S3}/attendanceparquet"
    ref = resolve(con, "employeewithabsent::absent")
    assert (ref.node.key, ref.column) == (f"{RS}/dev.public.employeewithabsent", "absent")
    assert resolve(con, GLUE_JOB).node.kind == "job"
    with pytest.raises(AmbiguousNode) as info:
        resolve(con, "employee")
    assert {c.key for c in info.value.candidates} == {f"{MYSQL}/employeedb.employee", f"{RS}/dev.public.employee"}
    with pytest.raises(NodeNotFound):
        resolve(con, "no_such_table")


def test_cross_service_lineage_is_one_graph(seeded: Store) -> None:
    node = resolve(seeded.con, "csv/attendance.csv").node
    lin = table_lineage(seeded.con, node, direction="downstream")
    # S3 CSV -> Glue job (Glue table) and -> Redshift COPY -> CTAS -> EMR job -> S3 parquet
    assert keys(lin.graph, "dataset") >= {
        f"{S3}/attendanceparquet", f"{RS}/dev.public.absent", f"{RS}/dev.public.employeewithabsent",
        f"{S3}/emr/employee_absence_summary"}
    depth = {d["key"]: d["depth"] for _, d in lin.graph.nodes(data=True)}
    assert depth[f"{RS}/dev.public.absent"] == 2 and depth[f"{S3}/emr/employee_absence_summary"] == 6
    limited = table_lineage(seeded.con, node, direction="downstream", depth=2)
    assert f"{RS}/dev.public.employeewithabsent" not in keys(limited.graph)
    up = table_lineage(seeded.con, resolve(seeded.con, "employee_absence_summary").node, direction="upstream")
    assert f"{S3}/csv/employees.csv" in keys(up.graph) and f"{S3}/attendanceparquet" not in keys(up.graph)


def test_column_lineage_with_transformation_types(seeded: Store) -> None:
    ref = resolve(seeded.con, "employeewithabsent::overtimehours")
    lin = column_lineage(seeded.con, ref, direction="upstream")
    edges = {(lin.graph.nodes[a]["key"], lin.graph.nodes[b]["key"]):
             {(t["type"], t["subtype"]) for t in d["transformations"]} for a, b, d in lin.graph.edges(data=True)}
    assert edges[(f"{RS}/dev.public.absent::overtimehours", f"{RS}/dev.public.employeewithabsent::overtimehours")] \
        == {("DIRECT", "IDENTITY")}
    assert edges[(f"{S3}/csv/attendance.csv::OvertimeHours", f"{RS}/dev.public.absent::overtimehours")] == \
        {("DIRECT", "IDENTITY")}
    # join keys are INDIRECT dependencies of every output column
    assert edges[(f"{RS}/dev.public.absent::employeeid", f"{RS}/dev.public.employeewithabsent::overtimehours")] == \
        {("INDIRECT", "JOIN")}
    agg = column_lineage(seeded.con, resolve(seeded.con, "employee_absence_summary::days_absent"),
                         direction="upstream", depth=1)
    types = {t["subtype"] for _, _, d in agg.graph.edges(data=True) for t in d["transformations"]}
    assert types == {"AGGREGATION", "CONDITIONAL", "JOIN", "GROUP_BY"}


def test_impact_with_paths(seeded: Store) -> None:
    items = impact(seeded.con, resolve(seeded.con, "csv/attendance.csv::Absent"))
    by_key = {i.key: i for i in items}
    target = f"{S3}/emr/employee_absence_summary::days_absent"
    assert by_key[target].distance == 3
    assert by_key[target].path == [f"{S3}/csv/attendance.csv::Absent", f"{RS}/dev.public.absent::absent",
                                   f"{RS}/dev.public.employeewithabsent::absent", target]
    up = impact(seeded.con, resolve(seeded.con, "employee_absence_summary"), upstream=True)
    assert {i.key for i in up if i.kind == "dataset"} == {
        f"{MYSQL}/employeedb.employee", f"{RS}/dev.public.employeewithabsent", f"{RS}/dev.public.employee",
        f"{RS}/dev.public.absent", f"{S3}/csv/attendance.csv", f"{S3}/csv/employees.csv"}


def _rewire(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Day 3: the notebook reads attendance.csv instead of employees.csv."""
    out = copy.deepcopy([e for e in events if e["job"]["name"].startswith("lineagenotebook.")])
    for e in out:
        e["run"]["runId"] = "0190a0b0-0000-7000-8000-0000000000aa"
        e["eventTime"] = e["eventTime"].replace("2024-06-01", "2024-06-03")
        e["inputs"][0]["name"] = "csv/attendance.csv"
        cl = e["outputs"][0]["facets"]["columnLineage"]
        for f in cl["fields"].values():
            for i in f["inputFields"]:
                i["name"] = "csv/attendance.csv"
        for i in cl["dataset"]:
            i["name"] = "csv/attendance.csv"
    return out


def test_modes_latest_cumulative_as_of_agree_between_tables_and_columns(seeded: Store,
                                                                        events: list[dict[str, Any]]) -> None:
    ingest_docs(seeded, _rewire(events))
    con = seeded.con
    job = resolve(con, "notebook_avg_salary_by_location").node
    assert job.kind == "job"
    latest = table_lineage(con, job, Mode("latest"), "upstream", 1)
    cumulative = table_lineage(con, job, Mode("cumulative"), "upstream", 1)
    before = table_lineage(con, job, Mode.parse(as_of="2024-06-02T00:00:00Z"), "upstream", 1)
    assert keys(latest.graph, "dataset") == {f"{S3}/csv/attendance.csv"}
    assert keys(cumulative.graph, "dataset") == {f"{S3}/csv/attendance.csv", f"{S3}/csv/employees.csv"}
    assert keys(before.graph, "dataset") == {f"{S3}/csv/employees.csv"}
    out = resolve(con, "avg_salary_by_location::avg_salary")
    for mode, lin in ((Mode("latest"), latest), (Mode.parse(as_of="2024-06-02T00:00:00Z"), before)):
        col = column_lineage(con, out, mode, "upstream", 1)
        col_sources = {d["dataset"] for n, d in col.graph.nodes(data=True) if d["depth"] < 0}
        assert col_sources == keys(lin.graph, "dataset"), mode
    assert table_lineage(con, job, Mode.parse(as_of="2024-05-01T00:00:00Z"), "both", 5).graph.number_of_edges() == 0
    # as-of relations are temporary tables, dropped after each answer
    assert temporary(con) == []


def test_diff_between_times_and_runs(seeded: Store, events: list[dict[str, Any]]) -> None:
    con = seeded.con
    d = gdiff.compare_times(con, parse_time("2024-06-01T12:00:00Z"), parse_time("2024-06-02T12:00:00Z"))
    assert d["columns"] == {"added": [], "removed": [f"{S3}/attendanceparquet::Salary"]}
    assert d["column-edges"]["removed"] == [
        f"{MYSQL}/employeedb.employee::Salary -> {S3}/attendanceparquet::Salary [DIRECT/IDENTITY]"]
    assert d["edges"] == {"added": [], "removed": []}
    assert gdiff.violations(d, ["removed-columns", "removed-edges"]) == ["removed-columns"]
    with pytest.raises(ValueError, match="unknown --fail-on"):
        gdiff.violations(d, ["removed-stuff"])
    runs = [r[0] for r in con.execute("SELECT run_key FROM runs r JOIN jobs j USING (job_id) WHERE j.name = ? "
                                      "ORDER BY started_at", [GLUE_JOB.removeprefix("default.")]).fetchall()]
    by_run = gdiff.compare_runs(con, runs[0][:8], runs[1])
    assert by_run["columns"]["removed"] == [f"{S3}/attendanceparquet::Salary"]
    ingest_docs(seeded, _rewire(events))
    d2 = gdiff.compare_times(con, parse_time("2024-06-02T12:00:00Z"), parse_time("2024-06-04T00:00:00Z"))
    job = "default.lineagenotebook.execute_insert_into_hadoop_fs_relation_command.notebook_avg_salary_by_location"
    assert d2["edges"]["removed"] == [f"{S3}/csv/employees.csv -> {job}"]
    assert d2["edges"]["added"] == [f"{S3}/csv/attendance.csv -> {job}"]
    # day 5: the same job writes avg_salary as a decimal
    retyped = _rewire(events)
    for e in retyped:
        e["run"]["runId"] = "0190a0b0-0000-7000-8000-0000000000bb"
        e["eventTime"] = e["eventTime"].replace("2024-06-03", "2024-06-05")
        for f in e["outputs"][0]["facets"]["schema"]["fields"]:
            if f["name"] == "avg_salary":
                f["type"] = "decimal(38,2)"
    ingest_docs(seeded, retyped)
    d3 = gdiff.compare_times(con, parse_time("2024-06-04T00:00:00Z"), parse_time("2024-06-06T00:00:00Z"))
    assert d3["schema-changes"] == [
        {"column": f"{S3}/notebook/avg_salary_by_location::avg_salary", "from": "double", "to": "decimal(38,2)"}]
    assert all(not d3[c]["added"] and not d3[c]["removed"] for c in gdiff.CATEGORIES)
    assert gdiff.violations(d3, ["removed-edges", "schema-changes"]) == ["schema-changes"]
    # nothing is left behind on the connection (a server answers on the same ones for days)
    assert temporary(con) == []


def test_memory_graph_matches_sql_traversal(seeded: Store) -> None:
    mem = MemoryGraph.load(seeded.con, Mode())
    for name in ("csv/attendance.csv", "employeewithabsent", "lineagenotebook", "employee_absence_summary"):
        node = resolve(seeded.con, name).node
        for direction in ("upstream", "downstream", "both"):
            for depth in (1, 2, 3, 20):
                sql = table_lineage(seeded.con, node, Mode(), direction, depth)
                assert set(mem.lineage(node.nx_id, direction, depth)) == set(sql.graph.nodes), (name, direction)


def test_renderers(seeded: Store) -> None:
    lin = table_lineage(seeded.con, resolve(seeded.con, "employeewithabsent").node, columns=True)
    data = render.lineage_to_dict(lin)
    assert {n["key"] for n in data["nodes"]} == keys(lin.graph)
    assert data["column_edges"] and all(e["transformations"] for e in data["column_edges"])
    dot = render.to_dot(lin)
    assert dot.startswith("digraph lineage {") and dot.count("->") == lin.graph.number_of_edges()
    mermaid = render.to_mermaid(lin)
    assert mermaid.startswith("flowchart LR") and mermaid.count("-->") == lin.graph.number_of_edges()


def test_details_of_many_nodes_are_each_nodes_own(seeded: Store) -> None:
    """An export gathers the details of every node at once: each must be what that node alone gives, with its own
    limits (the newest 100 runs of a dataset, 200 of a job) and its aliases' history merged in."""
    from lineagelab.graph import details
    from lineagelab.graph.resolve import Node
    from lineagelab.simulator.synthetic import Shape, events

    # popular sources read by hundreds of runs; two jobs that ran 260 times each
    seeded.ingest(Documents(list(events(Shape(jobs=200, runs_per_job=3, columns=2, layers=3, seed=3))), "fan-out"))
    seeded.ingest(Documents(list(events(Shape(jobs=2, runs_per_job=260, columns=2, layers=2, seed=5,
                                                   namespace="s3://other"))), "reruns"))
    con = seeded.con
    datasets = [Node("dataset", *r) for r in con.execute(
        "SELECT ds_id, namespace, name FROM datasets WHERE ds_id NOT IN (SELECT member_id FROM aliases)").fetchall()]
    jobs = [Node("job", *r) for r in con.execute("SELECT job_id, namespace, name FROM jobs").fetchall()]
    together = details.datasets_details(con, datasets)
    assert together == {n.id: details.datasets_details(con, [n])[n.id] for n in datasets}
    assert details.datasets_details(con, datasets + datasets[:5]) == together  # a node asked for twice
    jobs_together = details.jobs_details(con, jobs)
    assert jobs_together == {n.id: details.jobs_details(con, [n])[n.id] for n in jobs}

    # limits per node, newest first
    busiest = max(together.values(), key=lambda d: len(d["runs"]))
    run_count = con.execute("SELECT count(*) FROM run_io io JOIN datasets d USING (ds_id) WHERE d.namespace = ? "
                            "AND d.name = ?", [busiest["namespace"], busiest["name"]]).fetchone()
    assert run_count is not None and run_count[0] > 100 and len(busiest["runs"]) == 100
    starts = [r["started_at"] for r in busiest["runs"]]
    assert starts == sorted(starts, reverse=True)
    rerun = next(d for d in jobs_together.values() if d["namespace"] == "synthetic" and len(d["runs"]) == 200)
    assert rerun["runs"][0]["started_at"] == max(r["started_at"] for r in rerun["runs"])
    # the Glue table known under its S3 location and its Glue ARN: one node, both identities' versions and facets
    s3 = together[resolve(con, f"{S3}/attendanceparquet").node.id]
    assert any(s["namespace"].startswith("arn:aws:glue:") for s in s3["symlinks"])
    assert s3["versions"] and s3["schema"] and "schema" in s3["facets"]


@pytest.fixture(scope="module")
def layered(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A few hundred runs over 8 layers: more than a small run budget holds."""
    from lineagelab.simulator.synthetic import Shape, events

    s = Store.open(tmp_path_factory.mktemp("layered") / "lineage.duckdb")
    s.ingest(Documents(list(events(Shape(jobs=150, runs_per_job=2, columns=3, layers=5))), "synthetic"))
    return s


def _hops(con: Any) -> tuple[nx.Graph, dict[str, int]]:
    """The job-dataset graph of the runs with inputs or outputs (aliases folded), and each job's run count."""
    canon = dict(con.execute("SELECT member_id, canonical_id FROM aliases").fetchall())
    g = nx.Graph()
    for job, ds in con.execute("""SELECT DISTINCT r.job_id, io.ds_id FROM run_io io JOIN runs r USING (run_key)
                                  WHERE r.has_io""").fetchall():
        g.add_edge(("job", str(job)), ("dataset", str(canon.get(ds, ds))))
    runs = {str(j): n for j, n in con.execute("SELECT job_id, count(*) FROM runs WHERE has_io GROUP BY job_id")
            .fetchall()}
    return g, runs


def test_a_run_budget_keeps_the_nearest_jobs_whole_hops_first(layered: Store) -> None:
    """The served viewer's bundle of a store larger than its budget: centred on the dataset most jobs touch,
    every job of each hop before any of the next, never more runs than the budget; within it, as without."""
    from lineagelab.graph.bundle import build

    con = layered.con
    g, runs = _hops(con)
    total = sum(runs.values())
    whole = build(con, with_details=False, with_events=False)
    assert len(whole["runs"]) == total and "partial" not in whole
    # a budget the store fits in changes nothing
    roomy = build(con, with_details=False, with_events=False, max_runs=total)
    assert {k: v for k, v in roomy.items() if k != "generated"} == {k: v for k, v in whole.items() if k != "generated"}

    budget = total // 5
    part = build(con, with_details=False, with_events=False, max_runs=budget)
    assert part["partial"] == {"keptRuns": len(part["runs"]), "totalRuns": total, "maxRuns": budget, "cut": True}
    assert 0 < len(part["runs"]) <= budget
    degree = {n[1]: d for n, d in g.degree() if n[0] == "dataset"}
    busiest = max(degree.values())
    assert part["focus"]["kind"] == "dataset" and degree[part["focus"]["id"]] == busiest
    assert part["focus"]["id"] == min((d for d, n in degree.items() if n == busiest), key=int)
    dist = nx.single_source_shortest_path_length(g, ("dataset", part["focus"]["id"]))
    kept = {r["job"] for r in part["runs"]}
    last = max(dist[("job", j)] for j in kept)
    nearer = {n[1] for n, d in dist.items() if n[0] == "job" and d < last}
    assert nearer <= kept  # whole hops first
    left = [n[1] for n, d in dist.items() if n[0] == "job" and n[1] not in kept and d <= last + 2]
    assert set(runs.values()) == {2}  # every job the same size here, so the budget is full when one more won't fit
    assert left and all(len(part["runs"]) + runs[j] > budget for j in left)
    # the part is what the whole bundle says about those runs
    by_key = {r["key"]: r for r in whole["runs"]}
    assert all(r == by_key[r["key"]] for r in part["runs"])
    assert {d["id"] for d in part["datasets"]} <= {d["id"] for d in whole["datasets"]}

    # a focus of one's own, with a budget: the walk starts there
    far = max((n for n in dist if n[0] == "dataset"), key=lambda n: (dist[n], n[1]))
    node = resolve(con, next(f"{d['ns']}/{d['name']}" for d in whole["datasets"] if d["id"] == far[1])).node
    around = build(con, node, with_details=False, with_events=False, max_runs=budget)
    assert around["focus"] == {"kind": "dataset", "id": far[1]}
    near_far = nx.single_source_shortest_path_length(g, far)
    assert min(near_far[("job", r["job"])] for r in around["runs"]) == 1
    assert len(around["runs"]) <= budget
    # a depth alone leaves runs out too, and says so (not cut by a budget)
    hop = build(con, node, 1, with_details=False, with_events=False)
    first = {n[1] for n, d in near_far.items() if n[0] == "job" and d == 1}
    assert {r["job"] for r in hop["runs"]} == first
    assert hop["partial"] == {"keptRuns": sum(runs[j] for j in first), "totalRuns": total, "maxRuns": 0, "cut": False}
