"""The store on real DuckDB files: dedupe, rejection without damage, order independence, rebuild, export, migrate."""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pytest

from lineagelab.ingest.reader import parse_bytes, read_events
from lineagelab.store import schema
from lineagelab.store.sources import Events, Files
from lineagelab.store.store import BATCH_SIZE, Store, StoreError, StrictStop

MODEL_TABLES = ["runs", "run_io", "jobs", "job_versions", "datasets", "dataset_versions", "aliases",
                "current_io", "all_io", "current_col", "all_col", "schema_fields"]


def snapshot(store: Store) -> dict[str, list[Any]]:
    """Every model table as a sorted list of rows: equal snapshots mean equal models."""
    return {t: sorted(map(repr, store.con.execute(f"SELECT * FROM {t}").fetchall())) for t in MODEL_TABLES}


def ingest_docs(store: Store, docs: list[Any], batch_size: int = BATCH_SIZE, **kw: Any) -> Any:
    data = b"".join(orjson.dumps(d) + b"\n" for d in docs)
    return store.ingest(Events(parse_bytes(data, "test"), batch_size), **kw)


def test_same_event_stored_once(store: Store, events: list[dict[str, Any]]) -> None:
    r1 = ingest_docs(store, events)
    # The same event with other key order and whitespace is the same event.
    pretty = [json.dumps(e, indent=1, sort_keys=True) for e in events[:5]]
    r2 = store.ingest(Events(parse_bytes("\n".join(p.replace("\n", " ") for p in pretty).encode(), "again")))
    assert (r1.accepted, r1.duplicates) == (len(events), 0)
    assert (r2.accepted, r2.duplicates) == (0, 5)
    assert store.stats()["events"] == len(events)


def test_raw_events_kept_verbatim(store: Store, events: list[dict[str, Any]]) -> None:
    text = json.dumps(events[4], indent=2).encode()
    store.ingest(Events(parse_bytes(text, "doc.json")))
    (raw, run_id, job, etype, size), = store.con.execute(
        "SELECT raw, run_id, job_name, event_type, size FROM raw_events").fetchall()
    assert raw.encode() == text
    assert (run_id, job, etype, size) == (events[4]["run"]["runId"], events[4]["job"]["name"],
                                          events[4]["eventType"], len(text))


def test_bad_events_rejected_good_ones_kept(store: Store, events: list[dict[str, Any]], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINEAGELAB_STRICT", "1")  # the full validation: a non-uuid runId is rejected, not warned of
    ingest_docs(store, events[:4])
    before = snapshot(store)
    bad = copy.deepcopy(events[5])
    bad["run"]["runId"] = "nope"
    lines = [orjson.dumps(events[4]), b"{broken", orjson.dumps(bad), orjson.dumps({"eventType": "START"}),
             orjson.dumps(events[6])]
    path = tmp_path / "in.ndjson"
    path.write_bytes(b"\n".join(lines))
    report = store.ingest(Events(read_events([path])))
    assert report.accepted == 2
    assert [str(r) for r in report.rejected] == [
        f"{path}:line 2: malformed JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        f"{path}:line 3: $.run.runId: must be uuid (got 'nope')",
        f"{path}:line 4: $: not an OpenLineage event: needs 'run' and 'job' (RunEvent), 'dataset' or 'job'",
    ]
    assert store.stats()["events"] == 6
    assert snapshot(store) != before  # the two good events did land


def test_strict_stores_nothing(store: Store, events: list[dict[str, Any]]) -> None:
    ingest_docs(store, events[:3])
    before = (store.stats()["events"], snapshot(store))
    bad = dict(events[8], eventTime="not a time")
    with pytest.raises(StrictStop, match=r"\$.eventTime"):
        ingest_docs(store, [*events[3:8], bad, *events[9:]], strict=True, batch_size=2)
    assert (store.stats()["events"], snapshot(store)) == before


def test_out_of_order_gives_same_model(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    late_running = copy.deepcopy(next(e for e in events if e["eventType"] == "START" and e["outputs"]))
    late_running["eventType"] = "RUNNING"
    late_running["eventTime"] = late_running["eventTime"].replace("10:00:05", "10:00:30")
    docs = [*events, late_running]
    with Store.open(tmp_path / "ordered.duckdb") as a:
        ingest_docs(a, docs)
        expected = snapshot(a)
        run = a.con.execute("SELECT state, duration_ms FROM runs WHERE run_key = ?",
                            [late_running["run"]["runId"]]).fetchall()
    assert run == [("COMPLETE", 4000)]  # a late RUNNING neither reopens the run nor stretches it
    for seed in range(3):
        shuffled = docs[:]
        random.Random(seed).shuffle(shuffled)
        with Store.open(tmp_path / f"shuffled{seed}.duckdb") as b:
            for i in range(0, len(shuffled), 3):  # in several batches, too
                ingest_docs(b, shuffled[i : i + 3])
            assert snapshot(b) == expected


def test_rebuild_gives_same_model(store: Store, events: list[dict[str, Any]]) -> None:
    for e in events:
        ingest_docs(store, [e])
    before = snapshot(store)
    store.rebuild()
    assert snapshot(store) == before


def test_model_contents(store: Store, events: list[dict[str, Any]]) -> None:
    ingest_docs(store, events)
    stats = store.stats()
    assert (stats["jobs"], stats["runs"], stats["datasets"]) == (9, 11, 9)
    glue_job = "lineageglue.execute_create_data_source_table_as_select_command.gluedbname_attendance_with_emp1"
    # two runs of the Glue job with different schemas but the same inputs/outputs: one job version
    assert store.con.execute("SELECT run_count FROM jobs WHERE name = ?", [glue_job]).fetchall() == [(2,)]
    assert store.con.execute("SELECT count(*) FROM job_versions jv JOIN jobs j USING (job_id) WHERE j.name = ?",
                             [glue_job]).fetchall() == [(1,)]
    # the Glue output: two completed writes, the second with a different schema
    versions = store.con.execute(
        """SELECT reason, row_count, f.field_count FROM dataset_versions v JOIN datasets d USING (ds_id)
           JOIN schemas f ON f.schema_hash = v.schema_hash WHERE d.name = 'attendanceparquet' ORDER BY created_at"""
    ).fetchall()
    assert versions == [("write", 5, 14), ("write+schema", 5, 13)]
    # the S3 location and the Glue ARN are one node
    canonical = store.con.execute("SELECT d.name FROM aliases a JOIN datasets d ON d.ds_id = a.canonical_id")
    assert canonical.fetchall() == [("attendanceparquet",)]
    # runs: parent facet, durations
    child = store.con.execute("SELECT parent_run_id, duration_ms, state FROM runs r JOIN jobs j USING (job_id) "
                              "WHERE j.name = ? ORDER BY started_at LIMIT 1", [glue_job]).fetchall()
    assert child[0][1:] == (4000, "COMPLETE") and child[0][0] is not None


def test_job_version_changes_with_io(store: Store, events: list[dict[str, Any]]) -> None:
    ingest_docs(store, events)
    later = copy.deepcopy([e for e in events if e["job"]["name"].startswith("lineagenotebook.")])
    for e in later:
        e["run"]["runId"] = "0190a0b0-0000-7000-8000-000000000001"
        e["eventTime"] = e["eventTime"].replace("2024-06-01", "2024-06-03")
        e["outputs"][0]["name"] = "notebook/avg_salary_by_location_v2"
    ingest_docs(store, later)
    rows = store.con.execute(
        "SELECT count(*) FROM job_versions jv JOIN jobs j USING (job_id) WHERE j.name LIKE 'lineagenotebook.%'"
    ).fetchall()
    assert rows == [(2,)]


def test_export_round_trip_byte_for_byte(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with Store.open(tmp_path / "a.duckdb") as a:
        ingest_docs(a, events[:10])
        a.ingest(Events(parse_bytes(json.dumps(events[10], indent=2).encode(), "pretty.json")))  # multi-line original
        with (tmp_path / "one.ndjson").open("wb") as fh:
            assert a.export_events(fh) == 11
    with Store.open(tmp_path / "b.duckdb") as b:
        report = b.ingest(Events(read_events([tmp_path / "one.ndjson"])))
        assert report.accepted == 11 and not report.rejected
        with (tmp_path / "two.ndjson").open("wb") as fh:
            b.export_events(fh)
    assert (tmp_path / "one.ndjson").read_bytes() == (tmp_path / "two.ndjson").read_bytes()
    with Store.open(tmp_path / "a.duckdb") as a:  # and re-ingesting into the source store adds nothing
        assert a.ingest(Events(read_events([tmp_path / "one.ndjson"]))).duplicates == 11


def test_export_filters(store: Store, events: list[dict[str, Any]], tmp_path: Path) -> None:
    from lineagelab.events.identity import parse_time

    ingest_docs(store, events)
    day2 = list(store.iter_raw(since=parse_time("2024-06-02T00:00:00Z")))
    assert len(day2) == 4 and all('"2024-06-02' in r for r in day2)
    assert len(list(store.iter_raw(job="lineagenotebook"))) == 2
    assert len(list(store.iter_raw(until=parse_time("2024-06-01T10:00:00Z")))) == 3  # three app STARTs


def test_migrates_a_version_1_store(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(schema.RAW_V1)  # what lineagelab's first layout wrote: raw events only
    for i, e in enumerate(events):
        raw = orjson.dumps(e).decode()
        con.execute("INSERT INTO raw_events VALUES (?, ?, now(), ?::TIMESTAMPTZ, ?, 'RunEvent', ?, ?, ?, ?, ?)",
                    [f"id{i}", i + 1, e["eventTime"], e["eventType"], e["run"]["runId"], e["job"]["namespace"],
                     e["job"]["name"], e["producer"], raw])
    con.close()
    with Store.open(path, read_only=True) as s:  # even a read-only open migrates it first
        stats = s.stats()
        assert (stats["events"], stats["jobs"], stats["datasets"]) == (len(events), 9, 9)
        assert s.con.execute("SELECT count(*) FROM raw_events WHERE size IS NULL OR schema_url IS NULL"
                             ).fetchall() == [(0,)]


def test_newer_store_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "new.duckdb"
    with Store.open(path):
        pass
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = '99' WHERE key = 'raw_version'")
    con.close()
    with pytest.raises(StoreError, match="written by a newer lineagelab"):
        Store.open(path)


def test_not_a_store(tmp_path: Path) -> None:
    (tmp_path / "x.duckdb").write_bytes(b"definitely not duckdb" * 100)
    with pytest.raises(StoreError, match=r"not a lineage store|cannot open"):
        Store.open(tmp_path / "x.duckdb")
    with pytest.raises(StoreError, match="no lineage store"):
        Store.open(tmp_path / "missing.duckdb", read_only=True)


def test_a_store_path_with_quotes_and_spaces(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    """The store is attached by an SQL statement naming its path: no path may break out of it."""
    path = tmp_path / "o'brien's lab" / "it's; DROP TABLE raw_events; --.duckdb"
    with Store.open(path) as s:
        ingest_docs(s, events)
    with Store.open(path, read_only=True) as s:
        assert s.stats()["events"] == len(events)
        assert s.cursor().execute("SELECT count(*) FROM raw_events").fetchall() == [(len(events),)]
        # what DuckDB spills goes beside the store, not into the working directory
        assert s.con.execute("SELECT current_setting('temp_directory')").fetchall() == [(f"{path}.tmp",)]
    with duckdb.connect(str(path), read_only=True) as con:  # a plain DuckDB file for any other tool
        assert con.execute("SELECT count(*) FROM raw_events").fetchall() == [(len(events),)]


def test_dataset_and_job_events_in_model(store: Store) -> None:
    base = {"eventTime": "2024-01-01T00:00:00Z", "producer": "https://x/y",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"}
    ds = {**base, "dataset": {"namespace": "s3://b", "name": "k", "facets": {"schema": {
        "_producer": "https://x", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
        "fields": [{"name": "a", "type": "int"}]}}}}
    job = {**base, "job": {"namespace": "n", "name": "j"}, "inputs": [{"namespace": "s3://b", "name": "k"}],
           "outputs": [{"namespace": "s3://b", "name": "out"}]}
    ingest_docs(store, [ds, job])
    assert store.con.execute("SELECT count(*) FROM current_io").fetchall() == [(2,)]
    assert store.con.execute("SELECT reason FROM dataset_versions").fetchall() == [("schema",)]



def test_the_model_derived_at_once_is_the_model_derived_event_by_event(tmp_path: Path) -> None:
    """A store's first bulk ingest and a rebuild derive the whole model in one pass (``model.refresh_all``); it must
    be what refreshing the touched keys event by event gives, DatasetEvents and JobEvents (no run) included."""
    seed = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "seed_scenarios.ndjson"
    docs = [orjson.loads(line) for line in seed.read_bytes().splitlines()]
    assert any("symlinks" in str(d) for d in docs)  # aliases are part of it
    base = {"eventTime": "2024-01-01T00:00:00Z", "producer": "https://x/y"}
    docs += [
        {**base, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent",
         "dataset": {"namespace": "s3://b", "name": "k", "facets": {"schema": {
             "_producer": "https://x", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
             "fields": [{"name": "a", "type": "int"}]}}}},
        {**base, "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent",
         "job": {"namespace": "n", "name": "j"}, "inputs": [{"namespace": "s3://b", "name": "k"}],
         "outputs": [{"namespace": "s3://b", "name": "out"}]},
    ]
    with Store.open(tmp_path / "one_by_one.duckdb") as s:
        for d in docs:
            ingest_docs(s, [d])
        expected = snapshot(s)
        assert s.con.execute("SELECT count(*) FROM aliases").fetchall() != [(0,)]
        s.rebuild()
        assert snapshot(s) == expected
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    with Store.open(tmp_path / "bulk.duckdb") as s:
        s.ingest(Files([path], workers=1))  # a bulk ingest: its model caught up once, at the end
        assert snapshot(s) == expected


def _lineage_event(facet: dict[str, Any], n: int) -> dict[str, Any]:
    return {
        "eventType": "COMPLETE", "eventTime": f"2026-01-01T00:00:0{n}Z", "producer": "https://example.com/p",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": f"01234567-89ab-7def-8123-45678901234{n}"}, "job": {"namespace": "j", "name": f"job{n}"},
        "inputs": [{"namespace": "s3://b", "name": "in1"}],
        "outputs": [{"namespace": "s3://b", "name": f"out{n}", "facets": {"columnLineage": {
            "_producer": "https://example.com/p", **facet}}}],
    }


def test_column_lineage_facets_of_every_shape(store: Store) -> None:
    """Current facets, the pre-1.16 form, dataset-wide dependencies, and custom facets that reuse the key with junk:
    edges for what is well-formed, no error for the rest, and datasets named only in lineage still get a name."""
    url = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    facets = [
        {"_schemaURL": url, "fields": {"a": {"inputFields": [{"namespace": "s3://b", "name": "in1", "field": "x",
                                                               "transformations": [
            {"type": "DIRECT", "subtype": "IDENTITY", "description": "", "masking": False},
            {"type": "INDIRECT", "subtype": "FILTER", "description": "d", "masking": True}]}]}},
         "dataset": [{"namespace": "s3://b", "name": "only_in_lineage", "field": "k",
                      "transformations": [{"type": "INDIRECT", "subtype": "JOIN"}]}]},
        {"_schemaURL": "https://openlineage.io/spec/facets/1-0-1/ColumnLineageDatasetFacet.json",
         "fields": {"b": {"inputFields": [{"namespace": "s3://b", "name": "in1", "field": "y"}],
                          "transformationType": "identity", "transformationDescription": "copy"}}},
        {"_schemaURL": "https://example.com/custom.json",
         "fields": {"d": {"inputFields": [{"namespace": 5, "name": "n", "field": "f"}, {"name": "no_namespace"},
                                          "junk", {"namespace": "s3://b", "name": "in3", "field": "w",
                                                   "transformations": "not a list"}]},
                    "e": "junk", "f": {"inputFields": "x"}}, "dataset": "junk"},
        {"_schemaURL": "https://example.com/other.json", "fields": ["not", "a", "map"]},
        {"_schemaURL": "https://example.com/third.json", "fields": {"g": {"inputFields": [
            {"namespace": "s3://b", "name": "in1", "field": "q", "transformations": [
                {"type": "DIRECT", "subtype": "AGGREGATION", "masking": "true"}, "junk",
                {"type": "X", "masking": "no"}]}]}}},
    ]
    report = ingest_docs(store, [_lineage_event(f, i) for i, f in enumerate(facets)])
    assert report.ok and report.accepted == len(facets)
    edges = store.con.execute(
        """SELECT o.name, e.out_field, i.namespace, i.name, e.in_field, e.type, e.subtype, e.description, e.masking
           FROM f_column_edges e JOIN datasets o ON o.ds_id = e.out_ds JOIN datasets i ON i.ds_id = e.in_ds
           """).fetchall()
    assert sorted(edges, key=repr) == sorted([
        ("out0", "a", "s3://b", "in1", "x", "DIRECT", "IDENTITY", None, False),
        ("out0", "a", "s3://b", "in1", "x", "INDIRECT", "FILTER", "d", True),
        ("out0", None, "s3://b", "only_in_lineage", "k", "INDIRECT", "JOIN", None, False),
        ("out1", "b", "s3://b", "in1", "y", "DIRECT", "IDENTITY", "copy", False),
        ("out2", "d", "5", "n", "f", None, None, None, False),
        ("out2", "d", "s3://b", "in3", "w", None, None, None, False),
        ("out4", "g", "s3://b", "in1", "q", "DIRECT", "AGGREGATION", None, True),
        ("out4", "g", "s3://b", "in1", "q", None, None, None, False),
        ("out4", "g", "s3://b", "in1", "q", "X", None, None, False),
    ], key=repr)
    refs = store.con.execute("SELECT namespace, name FROM f_datasets WHERE role = 'ref' ORDER BY ALL").fetchall()
    assert refs == [("5", "n"), ("s3://b", "in3"), ("s3://b", "only_in_lineage")]
    before = snapshot(store)
    store.rebuild()
    assert snapshot(store) == before


def test_a_column_lineage_facet_is_stored_once_however_many_events_carry_it(store: Store) -> None:
    """Runs of a job repeat the same facet (START and COMPLETE, every day): its edges are stored once, by content
    (whatever the key order), each event's output records which facet it carried, and every edge still reads per
    event through ``f_column_edges``; the model is what a rebuild gives, and a later ingest adds only uses."""
    url = "https://openlineage.io/spec/facets/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
    facet = {"_schemaURL": url, "fields": {
        "a": {"inputFields": [{"namespace": "s3://b", "name": "in1", "field": "x"}]},
        "b": {"inputFields": [{"namespace": "s3://b", "name": "in1", "field": "y"},
                              {"namespace": "s3://b", "name": "in2", "field": "z"}]}}}
    reordered = {"fields": dict(reversed(facet["fields"].items())), "_schemaURL": url}
    docs = []
    for n, f in enumerate([facet, reordered, facet, facet]):
        doc = _lineage_event(f, n)
        doc["outputs"][0]["name"] = "out"  # the same output, run after run
        docs.append(doc)
    assert ingest_docs(store, docs[:2]).accepted == 2
    assert ingest_docs(store, docs[2:]).accepted == 2  # a later batch: the facet is stored already

    def count(sql: str) -> int:
        return int(store.con.execute(sql).fetchone()[0])  # type: ignore[index]

    assert count("SELECT count(*) FROM lineage_facets") == 1
    assert count("SELECT count(*) FROM lineage_edges") == 3
    assert count("SELECT count(*) FROM f_lineage_uses") == 4
    assert count("SELECT count(*) FROM f_column_edges") == 12  # 3 edges for each of the 4 events
    assert count("SELECT count(DISTINCT run_key) FROM f_column_edges") == 4
    model = snapshot(store)
    store.rebuild()
    assert snapshot(store) == model
    assert count("SELECT count(*) FROM lineage_edges") == 3
