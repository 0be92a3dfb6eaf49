"""The native pre-check may only say VALID or INVALID where the reference validation says the same.

The reference is the product's validation without the pre-check (jsonschema-rs on the composed schema, then the
step-by-step path) and, for acceptance, the official JSON Schemas checked with python-jsonschema.
"""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lineagelab.events import validation
from lineagelab.events.precheck import INVALID, UNKNOWN, VALID, precheck
from lineagelab.events.validation import EventKind, InvalidEvent, event_kind, validate_event
from tests.test_validation import official_errors

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "seed_scenarios.ndjson"

pytestmark = pytest.mark.skipif(precheck() is None, reason="the C pre-check is not built here")


def _check(doc: Any) -> int:
    quick = precheck()
    assert quick is not None
    return quick(event_kind(doc).value, doc)


def reference_ok(doc: Any, monkeypatch: pytest.MonkeyPatch) -> bool:
    """The product's verdict with the pre-check switched off."""
    with monkeypatch.context() as m:
        m.setattr(validation, "precheck", lambda: None)
        try:
            validate_event(doc)
            return True
        except InvalidEvent:
            return False


def _base_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seed = [orjson.loads(line) for line in FIXTURE.read_bytes().splitlines()]
    return [*events, *seed]


def test_valid_events_are_settled_natively(spec_dir: Path, events: list[dict[str, Any]]) -> None:
    """The sample events and the seed's captured ones take the fast path; the spec's full example, whose facet
    producer is ``http://123`` (a host that is a number: an IPv4 address to some URL parsers), is left to the
    reference, which accepts it."""
    docs = _base_events(events)
    assert len(docs) >= 25
    assert Counter(_check(d) for d in docs) == {VALID: len(docs)}
    full = json.loads((spec_dir / "examples" / "example_full_event.json").read_text())
    assert _check(full) == UNKNOWN and validate_event(full) is EventKind.RUN


# -- mutations ---------------------------------------------------------------------------------------------------

_TRICKY_STRINGS = [
    "", "x", "not a uri", "s3://bucket/key", "s3://bucket", "urn:x:y", "http://h:8080/p?q=1#f", "http://h:99999/",
    "http://h:/p", "http://[::1]/", "http://1.2.3.4/", "http://a..b/", "http://xn--zz/", "http://a b/", "http://h/%zz",
    "http://h/%41", "http://u:p@h/", "http://u@v@h/", "http://h/#a#b", "file:///tmp/x", "mailto:a@b.c", "a:", "1a:b",
    "http://h/\u00e9", "http://h/a b", "a: b", "http://h/a\"b", "http://h/a<b>", "http://h/a{b}", "http://h/a|b",
    "http://h/a\\b", "http://h/a^b", "http://h/a`b", "urn:a b",
    "2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-02-29T23:59:59.123456789Z", "2023-02-29T00:00:00Z",
    "2024-01-01T00:00:00.1234567891Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "2024-01-01t00:00:00z",
    "2024-01-01T00:00:00+24:00", "1999-12-31T23:59:59.5+14:00", "2024-01-01T00:00:00-05:30", "2024-01-01 00:00:00Z",
    "0000-01-01T00:00:00Z", "00000000-0000-0000-0000-000000000000", "ABCDEF01-2345-6789-abcd-ef0123456789",
    "abcdef012345678-9abc-def0-1234-56789abcdef0", "{00000000-0000-0000-0000-000000000000}",
    "00000000000000000000000000000000", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "START", "COMPLETE", "FINISHED",
]
_TRICKY_VALUES: list[Any] = [None, True, False, 0, -1, 1.0, 1.5, 2**70, float("nan"), [], {}, ["x"], {"a": 1},
                             {"_producer": "https://p", "_schemaURL": "https://s"}, *_TRICKY_STRINGS]


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _nodes(v, (*path, i))


def _mutate(doc: dict[str, Any], rnd: random.Random, urls: list[str]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        nodes = list(_nodes(doc))
        path, value = rnd.choice(nodes[1:])
        parent: Any = doc
        for p in path[:-1]:
            parent = parent[p]
        last = path[-1]
        action = rnd.random()
        if action < 0.25 and isinstance(parent, dict):
            del parent[last]
        elif action < 0.35 and isinstance(value, dict):
            value[rnd.choice(["extra", "_deleted", "fields", "name", "_schemaURL", "type"])] = rnd.choice(
                _TRICKY_VALUES)
        elif action < 0.45 and isinstance(value, dict):
            value["_schemaURL"] = rnd.choice(urls)
        elif action < 0.5 and isinstance(value, list) and value:
            value.append(copy.deepcopy(value[0]) if rnd.random() < 0.5 else rnd.choice(_TRICKY_VALUES))
        else:
            parent[last] = copy.deepcopy(rnd.choice(_TRICKY_VALUES))
    return doc


def test_mutated_events_never_get_a_wrong_answer(spec_dir: Path, events: list[dict[str, Any]],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    bases = [e for e in _base_events(events) if "run" in e]
    urls = sorted({v["_schemaURL"] for e in bases for _, v in _nodes(e)
                   if isinstance(v, dict) and isinstance(v.get("_schemaURL"), str)})
    assert len(urls) >= 5
    rnd = random.Random(20261126)
    answers: Counter[int] = Counter()
    for _ in range(1500):
        doc = _mutate(rnd.choice(bases), rnd, urls)
        try:
            answer = _check(doc)
        except InvalidEvent:
            continue  # no longer an event of any kind: decided before the pre-check
        answers[answer] += 1
        if answer == VALID:
            assert reference_ok(doc, monkeypatch), doc
            assert official_errors(spec_dir, doc) == [], doc
        elif answer == INVALID:
            assert not reference_ok(doc, monkeypatch), doc
    # the walk settles most cases itself (else this test would prove little)
    assert answers[VALID] >= 150 and answers[INVALID] >= 300, answers
    assert answers[UNKNOWN] < answers[VALID] + answers[INVALID], answers


@pytest.mark.parametrize("field", ["producer", "eventTime", "runId", "eventType"])
def test_format_and_enum_strings(field: str, events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    base = next(e for e in events if "run" in e)
    settled = 0
    for text in _TRICKY_STRINGS:
        doc = copy.deepcopy(base)
        (doc["run"] if field == "runId" else doc)[field] = text
        answer = _check(doc)
        if answer != UNKNOWN:
            settled += 1
            assert (answer == VALID) == reference_ok(doc, monkeypatch), (field, text)
    assert settled >= 2


_URI_ALPHABET = "abcAZ09+-._~:/?#[]@!$&'()*,;=% \"<>\\^`{|}\u00e9"

_URI_LIKE = (r"\A[a-z][a-z0-9+.-]{0,5}:(//[a-zA-Z0-9._~%!$&'()*+,;=:@-]{0,12})?"
             "[a-zA-Z0-9._~%!$&'()*+,;=:@/?# \"<>\\\\^`{|}\u00e9-]{0,16}\\Z")



@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(_URI_ALPHABET, max_size=24), st.from_regex(_URI_LIKE)))
def test_uris_it_accepts_are_uris(text: str) -> None:
    """Whatever URI the pre-check passes, jsonschema-rs's format check passes too."""
    validator = jsonschema_rs.Draft202012Validator({"type": "string", "format": "uri"}, validate_formats=True)
    doc = {"eventTime": "2024-01-01T00:00:00Z", "producer": text, "eventType": "START",
           "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
           "run": {"runId": "00000000-0000-4000-8000-000000000001"}, "job": {"namespace": "n", "name": "j"}}
    if _check(doc) == VALID:
        assert validator.is_valid(text), text


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,11})?"
                     r"([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"))
def test_date_times_it_accepts_are_date_times(text: str) -> None:
    validator = jsonschema_rs.Draft202012Validator({"type": "string", "format": "date-time"}, validate_formats=True)
    doc = {"eventTime": text, "producer": "https://p", "eventType": "START",
           "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
           "run": {"runId": "00000000-0000-4000-8000-000000000001"}, "job": {"namespace": "n", "name": "j"}}
    if _check(doc) == VALID:
        assert validator.is_valid(text), text


# -- values parsed JSON does not make, and deep documents ---------------------------------------------------------

class _Dict(dict):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize("odd", [
    lambda e: e["run"].__setitem__("runId", _Str("00000000-0000-4000-8000-000000000001")),
    lambda e: e.__setitem__("job", _Dict(e["job"])),
    lambda e: e.__setitem__("inputs", tuple(e["inputs"])),
    lambda e: e["job"].__setitem__(1, "x"),
], ids=["str subclass", "dict subclass", "tuple for a list", "non-string key"])
def test_values_of_other_types_are_left_to_the_reference(odd: Any, events: list[dict[str, Any]]) -> None:
    doc = copy.deepcopy(next(e for e in events if "run" in e and e.get("inputs")))
    odd(doc)
    assert _check(doc) == UNKNOWN


class _Str(str):
    pass


def test_deep_documents_are_left_to_the_reference(events: list[dict[str, Any]]) -> None:
    """Nested schema fields deeper than the walk goes: RecursionError inside, answered UNKNOWN, no crash."""
    base = next(e for e in events if "run" in e and e.get("outputs"))

    def with_fields(fields: list[Any]) -> dict[str, Any]:
        doc = copy.deepcopy(base)
        next(ds["facets"]["schema"] for ds in doc["outputs"] if "schema" in ds.get("facets", {}))["fields"] = fields
        return doc

    field: dict[str, Any] = {"name": "leaf", "type": "string"}
    for i in range(3000):
        field = {"name": f"f{i}", "type": "struct", "fields": [field]}
    assert _check(with_fields([field])) == UNKNOWN
    assert _check(with_fields([{"name": "a", "type": "struct", "fields": [
        {"name": "b", "type": "struct", "fields": [{"name": "c", "type": "string"}]}]}])) == VALID


_LOGIC = """
import json, sys
from lineagelab.events import _check
from lineagelab.events.precheck import _Compiler, _simplified
cases = json.loads(sys.argv[1])
out = []
for schema, value in cases:
    compiler = _Compiler({"urn:t": {"$id": "urn:t", **schema}})
    root = compiler.ref("urn:t", "urn:t")
    nodes, remap = _simplified(compiler.nodes)
    _check.configure(nodes, lambda url: -1, compiler.keep)
    out.append(_check.check(remap(root, keep_true=True), value))
print(json.dumps(out))
"""


@pytest.mark.parametrize(("schema", "value", "expected"), [
    ({"not": {"type": "string", "format": "uuid"}}, "not-a-uuid", UNKNOWN),  # a doubt is not negated into a pass
    ({"not": {"type": "string", "format": "uuid"}}, 7, VALID),
    ({"not": {"type": "string", "format": "uuid"}}, "00000000-0000-4000-8000-000000000001", INVALID),
    ({"oneOf": [{"format": "uri"}, {"type": "string"}]}, "a b", UNKNOWN),
    ({"oneOf": [{"format": "uri"}, {"type": "string"}]}, "s3://b/k", INVALID),  # both match
    ({"oneOf": [{"type": "integer"}, {"type": "string"}]}, "x", VALID),
    ({"anyOf": [{"format": "uri"}, {"type": "integer"}]}, "a b", UNKNOWN),
    ({"anyOf": [{"format": "uri"}, {"type": "string"}]}, "a b", VALID),
    ({"if": {"format": "uri"}, "then": False}, "a b", UNKNOWN),
    ({"if": {"type": "integer"}, "then": False, "else": {"enum": ["x"]}}, "x", VALID),
    ({"if": {"type": "integer"}, "then": False, "else": {"enum": ["x"]}}, 3, INVALID),
    ({"type": "integer"}, 1.0, UNKNOWN), ({"type": "integer"}, 1.5, INVALID), ({"type": "number"}, True, INVALID),
    ({"enum": [1, "a"]}, 1.0, UNKNOWN), ({"enum": [1, "a"]}, True, INVALID), ({"const": None}, None, VALID),
    ({"minimum": 3}, 2, INVALID), ({"minimum": 3}, 3.5, UNKNOWN),
    ({"dependentRequired": {"a": ["b"]}}, {"a": 1}, INVALID), ({"dependentRequired": {"a": ["b"]}}, {"c": 1}, VALID),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x"}, VALID),
    ({"properties": {"a": {"type": "string"}}, "additionalProperties": False}, {"a": "x", "b": 1}, INVALID),
    ({"properties": {"a": {"description": "any"}}, "additionalProperties": False}, {"a": [1]}, VALID),
    ({"minLength": 2}, "x", UNKNOWN),  # a keyword it does not implement
    ({"$ref": "#/$defs/missing"}, "x", UNKNOWN),
    ({"items": {"$ref": "#"}, "type": "array"}, [[[]]], VALID),
])
def test_three_valued_logic(schema: dict[str, Any], value: Any, expected: int) -> None:
    """The walk on small schemas, in a process of its own (the module holds one compiled schema set)."""
    out = subprocess.run([sys.executable, "-c", _LOGIC, json.dumps([[schema, value]])], capture_output=True,
                         text=True, check=True)
    assert json.loads(out.stdout) == [expected]


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


def test_threads_share_one_check(events: list[dict[str, Any]]) -> None:
    """Request threads validating at once, from a fresh process: the same verdicts as one thread, no crash."""
    docs = _base_events(events)
    bad = copy.deepcopy(docs[2])
    bad["run"]["runId"] = "nope"
    docs = [*docs, bad]
    out = subprocess.run([sys.executable, "-c", _THREADS], input=json.dumps(docs), capture_output=True, text=True,
                         check=True)
    results = json.loads(out.stdout)
    expected = [validate_event(copy.deepcopy(d)).value for d in docs[:-1]] + ["$.run.runId"]
    assert results == [expected] * 8


def test_pure_python_switch_turns_it_off() -> None:
    code = "from lineagelab.events.precheck import precheck; print(precheck() is None)"
    env = {**os.environ, "LINEAGELAB_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
