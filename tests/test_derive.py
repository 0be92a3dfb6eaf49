"""The facts of an event: the rows ``derive`` makes, and the tables a batch holds them in."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from lineagelab.events.validation import EventKind
from lineagelab.ingest import derive
from lineagelab.ingest.prepare import FactTables, Pending, accept, prepare
from lineagelab.ingest.reader import RawEvent, read_events
from lineagelab.simulator.synthetic import Shape
from lineagelab.simulator.synthetic import events as synthetic_events
from lineagelab.store.sources import Events, Prepared
from lineagelab.store.store import Store

ROOT = Path(__file__).resolve().parents[1]


def run_event(outputs: list[Any], inputs: list[Any] | None = None, **run_facets: Any) -> dict[str, Any]:
    return {"eventType": "COMPLETE", "eventTime": "2024-01-01T00:00:00Z", "producer": "p", "schemaURL": "s",
            "run": {"runId": str(uuid.uuid4()), "facets": run_facets},
            "job": {"namespace": "ns", "name": "job"}, "inputs": inputs or [], "outputs": outputs}


def lineage(fields: Any, dataset: Any = None) -> dict[str, Any]:
    facet: dict[str, Any] = {"_producer": "p", "_schemaURL": "x", "fields": fields}
    if dataset is not None:
        facet["dataset"] = dataset
    return facet


ODD = [
    # column lineage as producers really send it, and as malformed custom facets reusing the key
    run_event([{"namespace": "s3://b", "name": "out", "facets": {"columnLineage": lineage({
        "a": {"inputFields": [
            {"namespace": 5, "name": True, "field": 1.5, "transformations": [
                {"type": "DIRECT", "subtype": "IDENTITY", "description": "", "masking": "yes"},
                {"type": None, "subtype": 3, "description": {"x": 1}, "masking": 0},
                "not a dict",
            ]},
            {"namespace": "n", "name": "t", "field": "f", "transformations": []},
            {"namespace": "n", "name": "t", "field": "g", "transformations": "nope"},
            {"namespace": None, "name": "t"},
            {"namespace": "n"},
            "not a dict",
            {"namespace": "n", "name": "big", "field": 2**70, "transformations": [{"masking": 2**70}]},
        ], "transformationType": "identity", "transformationDescription": "copied"},
        "b": {"inputFields": [{"namespace": "n", "name": "t", "field": "x"}], "transformationType": ""},
        "c": {"inputFields": "not a list"},
        "d": "not a dict",
        "e": {"inputFields": [{"namespace": "n", "name": "u", "field": "y"}], "transformationType": 7,
              "transformationDescription": False},
    }, dataset=[{"namespace": "n", "name": "filter", "field": "z",
                 "transformations": [{"type": "INDIRECT", "subtype": "FILTER", "masking": True}]}, 7])}}]),
    run_event([{"namespace": "s3://b", "name": "o2", "facets": {"columnLineage": lineage("not a dict", dataset="x")}},
               {"namespace": "s3://b", "name": "o3", "facets": {"columnLineage": "not a dict"}},
               {"namespace": "s3://b", "name": "o4", "facets": {"columnLineage": lineage({}, dataset=[])}}],
              inputs=[{"namespace": "s3://b", "name": "in", "facets": {"columnLineage": lineage({
                  "a": {"inputFields": [{"namespace": "n", "name": "t", "field": "f"}]}})}}]),
    # schemas (nested, odd fields), symlinks (to itself, falsy lists), lifecycle, statistics, parents, errors
    run_event([{"namespace": "s3://b", "name": "t", "facets": {
        "schema": {"fields": [{"name": "a", "type": "struct", "fields": [
            {"name": "x", "type": "int", "description": "d"}, {"name": 5}, "junk", {"fields": []},
            {"name": "y", "fields": [{"name": "z"}]}]}, {"name": "b", "extra": [1, 2]}]},
        "symlinks": {"identifiers": [{"namespace": "s3://b", "name": "t", "type": "TABLE"},
                                     {"namespace": "glue", "name": "db.t", "type": "TABLE"},
                                     {"namespace": "glue", "name": 5}, {"namespace": "glue", "name": "db.u"}, "x"]},
        "lifecycleStateChange": {"lifecycleStateChange": "OVERWRITE"}},
        "outputFacets": {"outputStatistics": {"rowCount": 12}}},
        {"namespace": "s3://b", "name": "u", "facets": {"schema": {"fields": "x"}, "symlinks": {"identifiers": []},
                                                       "lifecycleStateChange": {"lifecycleStateChange": 3}},
         "outputFacets": {"outputStatistics": {"rowCount": True}}},
        {"namespace": "s3://b", "name": "v", "facets": {"symlinks": {"identifiers": 0}},
         "outputFacets": {"outputStatistics": {"rowCount": 1.5}}}],
        parent={"run": {"runId": "p"}, "job": {"namespace": "pns"}}, errorMessage={"message": "boom"}),
    run_event([], parent={"job": {"namespace": 1, "name": None}}, errorMessage={"message": 5}),
    {**run_event([]), "eventType": "START", "job": {}},
]


def test_odd_facets_are_derived() -> None:
    """Malformed column lineage, nested schemas, symlinks to itself, odd parents: facts, no error."""
    items = [(f"e{i}", EventKind.RUN, doc, 1_700_000_000_000_000 + i) for i, doc in enumerate(ODD)]
    items.append(("d", EventKind.DATASET, {"dataset": {"namespace": "n", "name": "d", "facets": {
        "schema": {"fields": [{"name": "a"}]}}}}, None))
    items.append(("j", EventKind.JOB, {"job": {"namespace": "n", "name": "j"}, "inputs": [{"namespace": "n",
                                                                                          "name": "i"}],
                                       "outputs": [{"namespace": "n", "name": "o", "facets": {"columnLineage": lineage(
                                           {"c": {"inputFields": [{"namespace": "n", "name": "r", "field": "f"}]}})}}]},
                  None))
    items += [(f"again{i}", kind, copy.deepcopy(doc), when) for i, (_, kind, doc, when) in enumerate(items)]
    py = derive.Facts()
    for event_id, kind, doc, when in items:
        derive.derive(py, event_id, kind, doc, None if when is None else derive._EPOCH + when * derive._MICROSECOND)
    assert any(row[6] == "ref" for row in py.datasets)  # datasets named only in lineage
    assert len(py.lineage_facets) < len(py.lineage_uses)  # repeated facets expanded once


@pytest.mark.parametrize("doc", [
    {"job": {"namespace": "n"}, "run": {"runId": "r"}},  # a job without a name
    {"job": {"namespace": "n", "name": "j"}, "run": {}},  # a run without an id
    {"job": {"namespace": "n", "name": 7}, "run": {"runId": "r"}},  # stable_id needs text
])
def test_the_derivation_refuses_what_no_valid_event_holds(doc: dict[str, Any]) -> None:
    with pytest.raises(Exception):  # noqa: B017 - whichever error: the event is refused, not stored half-derived
        derive.derive(derive.Facts(), "e", EventKind.RUN, doc, None)


@pytest.mark.parametrize("doc", [
    {"job": {"namespace": "n", "name": "j"}, "run": {"runId": "r"}, "inputs": [{"name": "t"}]},
    {"job": {"namespace": "n", "name": "j"}, "run": {"runId": "r"}, "outputs": ["x"]},
    {"job": {"namespace": "n", "name": "j"}, "run": {"runId": "r"}, "outputs": 5},
    {"job": {"namespace": "n", "name": "j"}, "run": {"runId": "r", "facets": {"parent": {"run": {"runId": 5}}}},
     "eventType": 3, "outputs": [{"namespace": "n", "name": "o", "facets": {
         "schema": {"fields": [{"name": "a", "type": 5, "description": ["x"]}]},
         "symlinks": {"identifiers": [{"namespace": "n", "name": "s", "type": 1}]}}}]},
])
def test_malformed_parts_yield_no_facts(doc: dict[str, Any]) -> None:
    """An event accepted with warnings (``events.leniency``) may hold them: they yield no facts, not an error."""
    facts = derive.Facts()
    derive.derive(facts, "e", EventKind.RUN, doc, None)
    tables = FactTables.of(facts).arrow().tables  # every value fits its column
    assert [r[5] for r in facts.datasets] == ["o"] * ("outputs" in doc and isinstance(doc["outputs"], list)
                                                      and isinstance(doc["outputs"][0], dict))
    assert tables["f_events"].num_rows == 1


def test_later_batches_leave_out_the_schemas_earlier_ones_carry(tmp_path: Path) -> None:
    docs = list(synthetic_events(Shape(jobs=40, runs_per_job=3, columns=5, seed=2)))
    texts = [orjson.dumps(d) for d in docs]
    half = len(texts) // 2
    sent: set[str] = set()
    first, second = (prepare(read_events_of(part), sent).arrow() for part in (texts[:half], texts[half:]))
    alone = prepare(read_events_of(texts[half:])).arrow()
    assert set(alone.facts.tables["schemas"]["schema_hash"].to_pylist()) - \
        set(first.facts.tables["schemas"]["schema_hash"].to_pylist())  # the second half has schemas of its own
    sent_again = set(second.facts.tables["schemas"]["schema_hash"].to_pylist()) if "schemas" in \
        second.facts.tables else set()
    assert not sent_again & set(first.facts.tables["schemas"]["schema_hash"].to_pylist())
    assert alone.facts.tables["schema_fields"].num_rows > (second.facts.tables["schema_fields"].num_rows
                                                           if "schema_fields" in second.facts.tables else 0)
    with Store.open(tmp_path / "a.duckdb") as a, Store.open(tmp_path / "b.duckdb") as b:
        a.ingest(Prepared([first, second]))
        b.ingest(Prepared([prepare(read_events_of(texts[:half])), prepare(read_events_of(texts[half:]))]))
        query = "SELECT * FROM schema_fields ORDER BY ALL"
        assert a.con.execute(query).fetchall() == b.con.execute(query).fetchall()
        assert a.con.execute("SELECT count(*) FROM f_datasets WHERE schema_hash IS NOT NULL AND schema_hash "
                             "NOT IN (SELECT schema_hash FROM schemas)").fetchone() == (0,)


def read_events_of(texts: list[bytes]) -> Any:
    from lineagelab.ingest.reader import parse_bytes

    return parse_bytes(b"\n".join(texts) + b"\n", "test")


def test_a_schema_nested_too_deeply_is_an_error_not_a_crash() -> None:
    deep: list[Any] = [{"name": "leaf"}]
    for i in range(20_000):
        deep = [{"name": f"f{i}", "fields": deep}]
    with pytest.raises(RecursionError):
        derive._flatten_fields(deep)


def test_an_integer_beyond_64_bits_in_a_schema_is_stored(tmp_path: Path) -> None:
    """An event built in Python may hold one (parsed JSON holds a float instead), and orjson refuses to write it: the
    schema hash falls back to the stdlib's JSON instead of failing the ingest."""
    doc = run_event([{"namespace": "s3://b", "name": "t", "facets": {"schema": {
        "_producer": "https://example.com/p", "_schemaURL": "https://openlineage.io/spec/facets/1-1-1/"
        "SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
        "fields": [{"name": "a", "type": "bigint", "maxValue": 2**70}]}}}])
    doc["producer"], doc["schemaURL"] = "https://example.com/p", "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    with Store.open(tmp_path / "s.duckdb") as s:
        report = s.ingest(Events([RawEvent("test", "event 0", json.dumps(doc).encode(), doc)]))
        assert (report.accepted, report.rejected) == (1, [])
        assert s.con.execute("SELECT name, type FROM schema_fields").fetchall() == [("a", "bigint")]


def test_schema_fields_go_to_the_batch_tables_in_order() -> None:
    schema_url = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
    docs = [run_event([{"namespace": "n", "name": f"t{i}", "facets": {"schema": {
        "_producer": "https://example.com/p", "_schemaURL": schema_url, "fields": fields}}}])
        for i, fields in enumerate([[], [{"name": "a", "type": "int"}, {"name": "s", "fields": [{"name": "x"}]}], []])]
    for doc in docs:
        doc["producer"], doc["schemaURL"] = "https://example.com/p", "https://openlineage.io/spec/2-0-2/OpenLineage.json"
    batch = prepare(read_events_of([orjson.dumps(d) for d in docs])).arrow()
    assert not batch.rejected
    fields = batch.facts.tables["schema_fields"].to_pylist()
    counts = dict(zip(*batch.facts.tables["schemas"].to_pydict().values(), strict=True))
    assert sorted(counts.values()) == [0, 3]
    (full,) = [h for h, n in counts.items() if n == 3]
    assert fields == [{"schema_hash": full, "ordinal": 0, "name": "a", "type": "int", "description": None},
                      {"schema_hash": full, "ordinal": 1, "name": "s", "type": None, "description": None},
                      {"schema_hash": full, "ordinal": 2, "name": "s.x", "type": None, "description": None}]


def _layout(codes: str) -> list[tuple[str, str]]:
    return [(f"c{i}", c) for i, c in enumerate(codes)]


def _by_pyarrow(rows: list[tuple[Any, ...]], layout: list[tuple[str, str]]) -> Any:
    import pyarrow as pa

    from lineagelab.ingest.prepare import _arrow_type

    return pa.Table.from_arrays([pa.array([r[i] for r in rows], _arrow_type(t)) for i, (_, t) in enumerate(layout)],
                                names=[n for n, _ in layout])


def test_fact_tables_built_in_workers_are_pyarrows_conversion() -> None:
    """``prepare._columns`` as workers build them: the same table as pyarrow converting the values, every fact table of
    real events, and odd values: nulls, empty and non-ASCII strings, int bounds."""
    from lineagelab.ingest.prepare import _LAYOUTS, _columns

    facts = derive.Facts()
    for raw in read_events([ROOT / "fixtures" / "events" / "seed_scenarios.ndjson"]):
        item = accept(raw)
        assert isinstance(item, Pending)
        derive.derive(facts, item.event_id, item.kind, item.doc, item.event_time)
    for name, rows in (("f_events", facts.events), ("f_datasets", facts.datasets), ("f_symlinks", facts.symlinks),
                       ("uses", facts.lineage_uses), ("edges", list(zip(*facts.lineage_edges, strict=True)))):
        assert rows
        built = _columns(rows, _LAYOUTS[name]).arrow()
        built.validate(full=True)
        assert built.equals(_by_pyarrow(rows, _LAYOUTS[name])), name
    layout = _layout("sqti?")
    odd = [("", 0, 0, 0, False), (None, None, None, None, None), ("é€𝄞 naïve", 2**63 - 1, -(2**63), 2**31 - 1, True),
           ("x" * 70_000, -1, 1, -(2**31), None)] * 3
    for n in range(len(odd) + 1):  # every length around the validity bitmap's byte edges
        built = _columns(odd[:n], layout).arrow()
        built.validate(full=True)
        assert built.equals(_by_pyarrow(odd[:n], layout))


@pytest.mark.parametrize("bad", [2**63, 2**31, 1.5, "1", b"x", "\ud800", True])
def test_a_value_the_workers_do_not_take_is_left_to_pyarrow(bad: Any) -> None:
    """What the workers do not convert exactly goes to pyarrow, which converts or refuses it as it did before."""
    from lineagelab.ingest.prepare import _columns

    for codes in ("s", "q", "i", "?"):
        layout = _layout(codes)
        rows = [(None,), (bad,)]
        try:
            expected = _by_pyarrow(rows, layout)
        except Exception as exc:
            with pytest.raises(type(exc)):
                _columns(rows, layout).arrow()
        else:
            assert _columns(rows, layout).arrow().equals(expected)


def test_facet_numbers_shift_for_a_merged_batch() -> None:
    """Merged batches renumber their facets (``prepare._plus``): sliced and chunked columns alike."""
    import pyarrow as pa

    from lineagelab.ingest import prepare

    column = pa.chunked_array([pa.array([1, 2, 3], pa.int32()).slice(1), pa.array([7, 0, 2**30], pa.int32())])
    assert prepare._plus(column, 10).to_pylist() == [12, 13, 17, 10, 2**30 + 10]
