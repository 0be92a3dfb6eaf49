"""The product's validator must agree with the official OpenLineage JSON Schemas (checked here with jsonschema)."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from referencing import Registry, Resource

from lineagelab.events.validation import EventKind, InvalidEvent, facet_schema_ref, validate_event


def _official(spec_dir: Path) -> tuple[Registry, dict[str, Any]]:
    core = json.loads((spec_dir / "OpenLineage.json").read_text())
    resources = [(core["$id"], Resource.from_contents(core))]
    for f in sorted((spec_dir / "facets").glob("*.json")):
        doc = json.loads(f.read_text())
        resources.append((doc["$id"], Resource.from_contents(doc)))
    return Registry().with_resources(resources), core


def official_errors(spec_dir: Path, event: Any) -> list[str]:
    """Validate an event the way the spec README prescribes: core schema, then each facet by its _schemaURL file."""
    registry, core = _official(spec_dir)
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    errors = [e.message for e in jsonschema.Draft202012Validator(core, registry=registry,
                                                                 format_checker=checker).iter_errors(event)]
    if errors or not isinstance(event, dict):
        return errors
    containers: list[Any] = []
    for key in ("run", "job"):
        containers.append((event.get(key) or {}).get("facets") or {})
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        for ds in event.get(side) or []:
            containers += [ds.get("facets") or {}, ds.get(extra) or {}]
    if "dataset" in event:
        containers.append(event["dataset"].get("facets") or {})
    for facets in containers:
        for facet in facets.values():
            url = facet.get("_schemaURL", "")
            base, _, fragment = url.partition("#")
            file = base.rsplit("/", 1)[-1]
            path = spec_dir / "facets" / file
            if file and path.exists():
                doc = json.loads(path.read_text())
                name = fragment.rsplit("/", 1)[-1] if fragment.startswith("/$defs/") else file[:-5]
                if name not in doc["$defs"]:
                    name = file[:-5]
                if name not in doc["$defs"]:
                    continue
                schema = {"$ref": f"{doc['$id']}#/$defs/{name}"}
                errors += [e.message for e in jsonschema.Draft202012Validator(
                    schema, registry=registry, format_checker=checker).iter_errors(facet)]
    return errors


def product_ok(event: Any) -> bool:
    try:
        validate_event(event)
        return True
    except InvalidEvent:
        return False


def _facet_examples(spec_dir: Path) -> list[Path]:
    return sorted(p for p in (spec_dir / "examples").glob("*/*.json"))


def test_full_example_event_validates(spec_dir: Path) -> None:
    event = json.loads((spec_dir / "examples" / "example_full_event.json").read_text())
    assert validate_event(event) is EventKind.RUN
    assert official_errors(spec_dir, event) == []


def test_every_spec_facet_example_agrees(spec_dir: Path, events: list[dict[str, Any]]) -> None:
    examples = _facet_examples(spec_dir)
    assert len(examples) >= 30
    base = events[2]  # a RunEvent with an input and output of our own
    checked = 0
    for path in examples:
        facets = json.loads(path.read_text())
        kind = path.parent.name
        for key, facet in facets.items():
            event = copy.deepcopy(base)
            if kind.endswith("RunFacet"):
                event["run"].setdefault("facets", {})[key] = facet
            elif kind.endswith("JobFacet"):
                event["job"].setdefault("facets", {})[key] = facet
            elif kind.endswith("InputDatasetFacet"):
                event["inputs"] = [{"namespace": "n", "name": "x", "inputFacets": {key: facet}}]
            elif kind.endswith("OutputDatasetFacet"):
                event["outputs"] = [{"namespace": "n", "name": "x", "outputFacets": {key: facet}}]
            else:
                event["outputs"] = [{"namespace": "n", "name": "x", "facets": {key: facet}}]
            assert product_ok(event) == (official_errors(spec_dir, event) == []), path
            checked += 1
    assert checked >= 30


def test_sample_events_are_valid_for_both(spec_dir: Path, events: list[dict[str, Any]]) -> None:
    for event in events:
        assert official_errors(spec_dir, event) == []
        validate_event(event)


def _mutations() -> list[tuple[str, Any, str]]:
    """(description, mutation applied to a valid RunEvent, expected JSON path of the problem)."""

    def set_(path: list[Any], value: Any) -> Any:
        def f(e: dict[str, Any]) -> None:
            target = e
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = value
        return f

    def delete(path: list[Any]) -> Any:
        def f(e: dict[str, Any]) -> None:
            target = e
            for p in path[:-1]:
                target = target[p]
            del target[path[-1]]
        return f

    return [
        ("runId not a uuid", set_(["run", "runId"], "not-a-uuid"), "$.run.runId"),
        ("runId wrong type", set_(["run", "runId"], 42), "$.run.runId"),
        ("eventTime not a date", set_(["eventTime"], "yesterday"), "$.eventTime"),
        ("eventType unknown", set_(["eventType"], "FINISHED"), "$.eventType"),
        ("job name missing", delete(["job", "name"]), "$.job"),
        ("producer missing", delete(["producer"]), "$"),
        ("schemaURL missing", delete(["schemaURL"]), "$"),
        ("inputs not an array", set_(["inputs"], {"a": 1}), "$.inputs"),
        ("dataset namespace wrong type", set_(["outputs", 0, "namespace"], 7), "$.outputs[0].namespace"),
        ("facet without _producer", delete(["outputs", 0, "facets", "schema", "_producer"]),
         "$.outputs[0].facets.schema"),
        ("schema field without name", set_(["outputs", 0, "facets", "schema", "fields", 0], {"type": "string"}),
         "$.outputs[0].facets.schema.fields[0]"),
        ("column lineage inputField missing field",
         delete(["outputs", 0, "facets", "columnLineage", "fields", "EmployeeID", "inputFields", 0, "field"]),
         "$.outputs[0].facets.columnLineage.fields.EmployeeID.inputFields[0]"),
        ("symlink identifiers wrong type", set_(["outputs", 0, "facets", "symlinks", "identifiers"], "x"),
         "$.outputs[0].facets.symlinks.identifiers"),
        ("lifecycle state unknown", set_(["outputs", 0, "facets", "lifecycleStateChange", "lifecycleStateChange"],
                                         "EXPLODE"), "$.outputs[0].facets.lifecycleStateChange.lifecycleStateChange"),
        ("run facets not an object", set_(["run", "facets"], []), "$.run.facets"),
    ]


@pytest.mark.parametrize("desc,mutate,path", _mutations(), ids=[m[0] for m in _mutations()])
def test_crafted_bad_events_rejected_like_official(
    spec_dir: Path, events: list[dict[str, Any]], desc: str, mutate: Any, path: str
) -> None:
    event = next(e for e in events if e["outputs"] and e["job"]["name"].startswith("lineageglue."))
    event = copy.deepcopy(event)
    mutate(event)
    assert official_errors(spec_dir, event), f"official schema accepts: {desc}"
    with pytest.raises(InvalidEvent) as info:
        validate_event(event)
    assert info.value.path.startswith(path), (info.value.path, info.value.message)
    assert info.value.message


@pytest.mark.parametrize(
    "doc,message",
    [
        ([], "must be a JSON object"),
        ({"eventTime": "2024-01-01T00:00:00Z"}, "not an OpenLineage event"),
        ({"run": {"runId": "x"}}, "missing required property 'job'"),
    ],
)
def test_not_an_event(doc: Any, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        validate_event(doc)


def test_dataset_and_job_events(spec_dir: Path) -> None:
    base = {"eventTime": "2024-01-01T00:00:00Z", "producer": "https://x/y",
            "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent"}
    ds_event = {**base, "dataset": {"namespace": "s3://b", "name": "k"}}
    job_event = {**base, "job": {"namespace": "n", "name": "j"}, "inputs": [{"namespace": "s3://b", "name": "k"}]}
    assert validate_event(ds_event) is EventKind.DATASET
    assert validate_event(job_event) is EventKind.JOB
    assert official_errors(spec_dir, ds_event) == [] and official_errors(spec_dir, job_event) == []


def test_custom_facets_only_need_base_fields() -> None:
    assert facet_schema_ref("https://example.com/MyFacet.json") is None
    assert facet_schema_ref("https://openlineage.io/spec/facets/1-1-0/SchemaDatasetFacet.json#/$defs/x") is not None


def test_facets_are_checked_by_their_url_whatever_their_key(spec_dir: Path, events: list[dict[str, Any]]) -> None:
    """Valid events are accepted by one composed schema that tries a facet's conventional key first: a standard
    facet under another key, or a URL naming another facet's file, must be judged exactly as the spec says."""
    examples = [(p, k, f) for p in _facet_examples(spec_dir) for k, f in json.loads(p.read_text()).items()
                if p.parent.name.endswith("DatasetFacet") and not p.parent.name.endswith(("InputDatasetFacet",
                                                                                          "OutputDatasetFacet"))]
    urls = sorted({f["_schemaURL"] for _, _, f in examples if isinstance(f.get("_schemaURL"), str)})
    assert len(urls) >= 10
    rejected = checked = 0
    for i, (path, key, facet) in enumerate(examples):
        for variant in ("custom key", "other url", "other url, own key", "fragment names no definition"):
            moved = copy.deepcopy(facet)
            name = key
            if variant == "custom key":
                name = f"my_{key}"
            elif variant.startswith("other url"):
                moved["_schemaURL"] = urls[(i + 3) % len(urls)]
                name = key if variant.endswith("own key") else "x"
            else:
                moved["_schemaURL"] = moved["_schemaURL"].split("#")[0] + "#/$defs/NoSuchDefinition"
            event = copy.deepcopy(events[2])
            event["outputs"] = [{"namespace": "n", "name": "x", "facets": {name: moved}}]
            official = official_errors(spec_dir, event) == []
            assert product_ok(event) == official, (path, variant)
            rejected += not official
            checked += 1
    assert checked >= 40 and rejected >= 5  # the variants do produce invalid events, and they are caught


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-06-01T10:00:00Z", "2024-06-01T10:00:00+00:00"),
    ("2024-06-01T10:00:00.123456789Z", "2024-06-01T10:00:00.123456+00:00"),  # Java's nanoseconds, truncated
    ("2024-06-01T12:30:00.5+02:30", "2024-06-01T10:00:00.500000+00:00"),
    (" 2024-06-01t10:00:00.1234567z ", "2024-06-01T10:00:00.123456+00:00"),  # blanks, lower case
    ("2024-06-01T10:00:00", "2024-06-01T10:00:00+00:00"),  # no offset: UTC
])
def test_event_times_are_read_as_utc(text: str, expected: str) -> None:
    from lineagelab.events.identity import parse_time

    assert parse_time(text).isoformat() == expected


_THREADS = """
import copy, json, sys, threading
from lineagelab.events.validation import InvalidEvent, validate_event
docs = json.loads(sys.stdin.read())
def verdict(d):
    try:
        return validate_event(d).value
    except InvalidEvent as exc:
        return exc.path
barrier = threading.Barrier(8)
results = [None] * 8
def work(i):
    barrier.wait()  # all threads ask for the check at once, before it is built
    results[i] = [verdict(copy.deepcopy(d)) for d in docs]
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(results))
"""

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "seed_scenarios.ndjson"


def test_threads_share_one_check(events: list[dict[str, Any]]) -> None:
    """Request threads validating at once, from a fresh process: the same verdicts as one thread, no crash."""
    docs = [*events, *(orjson.loads(line) for line in FIXTURE.read_bytes().splitlines())]
    bad = copy.deepcopy(docs[2])
    bad["run"]["runId"] = "nope"
    docs = [*docs, bad]
    out = subprocess.run([sys.executable, "-c", _THREADS], input=json.dumps(docs), capture_output=True, text=True,
                         check=True)
    results = json.loads(out.stdout)
    expected = [validate_event(copy.deepcopy(d)).value for d in docs[:-1]] + ["$.run.runId"]
    assert results == [expected] * 8
