"""The bulk ingest's native fast path (store/_fast.c) gives the batches of the reference path, row for row.

The reference is ``prepare`` over the reader's parsed events (orjson, ``validate_event``, ``derive``); the fast path is
``prepare_block``, which settles NDJSON lines in C and sends the rest down that reference path. Every test compares
whole batches (raw rows and their Arrow table, fact tables, key sets, rejections with their line numbers, duplicate
counts) and also checks that the fast path really settled lines (a path that always fell back would pass otherwise).
"""

from __future__ import annotations

import copy
import gzip
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lineagelab.ingest import fastpath
from lineagelab.ingest.derive import Facts
from lineagelab.ingest.prepare import Batch, prepare, prepare_block
from lineagelab.ingest.reader import MAX_EVENT_BYTES, Block, read_blocks
from lineagelab.simulator.synthetic import Shape
from lineagelab.simulator.synthetic import events as synthetic_events
from tests.test_derive import ODD, memory_grown
from tests.test_precheck import _base_events, _mutate, _nodes

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "events" / "seed_scenarios.ndjson"
CORE = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

pytestmark = pytest.mark.skipif(fastpath.native() is None, reason="the native fast path is not built here")


def assert_same(fast: Batch, ref: Batch) -> None:
    fast, ref = fast.arrow(), ref.arrow()
    assert fast.ids == ref.ids
    assert fast.raw.equals(ref.raw), (fast.raw.to_pylist()[:2], ref.raw.to_pylist()[:2])
    assert sorted(fast.facts.tables) == sorted(ref.facts.tables)
    for name, table in ref.facts.tables.items():
        assert fast.facts.tables[name].to_pylist() == table.to_pylist(), name
        assert fast.facts.tables[name].schema == table.schema, name
    assert (fast.facts.run_keys, fast.facts.job_ids, fast.facts.ds_ids) == (
        ref.facts.run_keys, ref.facts.job_ids, ref.facts.ds_ids)
    assert (fast.facts.symlinks, fast.facts.facets) == (ref.facts.symlinks, ref.facts.facets)
    assert [str(r) for r in fast.rejected] == [str(r) for r in ref.rejected]
    assert (fast.duplicates, fast.read) == (ref.duplicates, ref.read)


def settled(lines: list[bytes]) -> int:
    """How many of ``lines`` the fast path settles itself (as ``_prepare_lines`` drives it: a line it leaves is
    skipped, and it goes on after it)."""
    fast = fastpath.native()
    data = b"\n".join(lines)
    facts, seen, out = Facts(), set[str](), list[Any]()
    text, offsets, pos = bytearray(), bytearray(8), 0
    while (pos := fast.run_block(data, pos, facts, seen, out, text, offsets)[0]) < len(data):
        end = data.find(b"\n", pos)
        if end < 0:
            break
        pos = end + 1
    return len(out)  # a row or False (a repeat) for each line it settled


def settles(line: bytes, facts: Facts, seen: set[str], out: list[Any]) -> bool:
    """Whether the fast path settles this one line."""
    return bool(fastpath.native().run_block(line, 0, facts, seen, out, bytearray(), bytearray(8))[0] == len(line))


def compare(block: Block) -> None:
    sent_fast: set[str] = set()
    sent_ref: set[str] = set()
    assert_same(prepare_block(block, sent_fast), prepare(block.events(), sent_ref))
    assert sent_fast == sent_ref  # the schemas later batches leave out


def ndjson(docs: list[Any]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def test_strings_it_keeps_for_reuse_are_never_confused(events: list[dict[str, Any]]) -> None:
    """The fast path reuses a string object for the same short ASCII text (a 4,096-slot cache): thousands of names
    that replace each other in it, non-ASCII names as long in bytes as ASCII ones, and the same names again must
    give the reference's facts."""
    base = next(e for e in _base_events(events) if e.get("outputs") and e.get("inputs"))
    docs = []
    for i in range(6000):
        doc = copy.deepcopy(base)
        doc["run"]["runId"] = f"01234567-89ab-7def-8123-{i:012d}"
        doc["inputs"][0]["name"] = f"t{i % 5000}"  # 5,000 names: slots are taken over and taken back
        doc["outputs"][0]["name"] = ["caf\u00e9", "cafe\u0301", "cafee", "caf\u00e9s"][i % 4]  # same byte lengths
        doc["job"]["name"] = f"job_{i % 3}"
        docs.append(doc)
    block = Block("names.ndjson", ndjson(docs), first_line=1)
    assert settled([orjson.dumps(d) for d in docs]) == len(docs)
    compare(block)


def test_a_facet_found_valid_vouches_only_for_its_exact_text(events: list[dict[str, Any]]) -> None:
    """The fast path remembers facets it found valid (by schema and canonical text) and their content hashes, and
    skips walking and hashing them again: a facet one byte away from a remembered one, made invalid, must still be
    refused, and valid ones a byte apart get their own hashes, in any order."""
    base = next(e for e in _base_events(events)
                if any("schema" in (d.get("facets") or {}) for d in e.get("inputs", []) + e.get("outputs", [])))
    docs = []
    for i in range(40):
        doc = copy.deepcopy(base)
        doc["run"]["runId"] = f"01234567-89ab-7def-8123-{i:012d}"
        ds = next(d for d in doc.get("inputs", []) + doc.get("outputs", []) if "schema" in (d.get("facets") or {}))
        fields = ds["facets"]["schema"]["fields"]
        if i % 3 == 0:
            fields[0]["description"] = f"v{i % 2}"  # two valid schemas a byte apart
        elif i % 3 == 1:
            fields[0]["name"] = 5  # not a string: the facet is invalid
        elif i % 3 == 2:
            fields[0]["type"] = {"not": "a type"}
        docs.append(doc)
    lines = [orjson.dumps(d) for d in docs]
    assert settled(lines) == len([i for i in range(40) if i % 3 == 0])  # the valid ones, the others refused
    batch = prepare_block(Block("facets.ndjson", b"\n".join(lines), first_line=1)).arrow()
    assert len(batch.rejected) == len(docs) - len(batch.ids) > 20
    assert len(set(batch.facts.tables["f_datasets"].column("schema_hash").to_pylist()) - {None}) >= 2
    compare(Block("facets.ndjson", b"\n".join(lines), first_line=1))


def test_real_events_take_the_fast_path_and_give_the_same_batches(events: list[dict[str, Any]]) -> None:
    docs = [*_base_events(events), *synthetic_events(Shape(jobs=40, columns=6, seed=5))]
    assert len(docs) > 150
    lines = [orjson.dumps(d) for d in docs]
    assert settled(lines) == len(lines)  # every real event: no fallback at all
    # with what a real file holds besides: blank lines, repeats (also in another key order), CRLF line ends
    data = ndjson(docs[:30]) + b"\n  \n" + lines[3] + b"\r\n" + orjson.dumps(dict(reversed(docs[4].items()))) + b"\n"
    compare(Block("f.ndjson", data + ndjson(docs[30:]), first_line=7))


def test_mutated_events_give_the_same_batches(events: list[dict[str, Any]]) -> None:
    bases = [e for e in _base_events(events) if "run" in e]
    urls = sorted({v["_schemaURL"] for e in bases for _, v in _nodes(e)
                   if isinstance(v, dict) and isinstance(v.get("_schemaURL"), str)})
    rnd = random.Random(1126)
    lines = []
    for _ in range(1500):
        try:
            lines.append(orjson.dumps(_mutate(rnd.choice(bases), rnd, urls)))
        except TypeError:  # 2**70 or NaN: not JSON orjson writes
            continue
    # and lines no parsed document can stand for: JSON the reader refuses, floats, duplicate keys, escapes
    base = orjson.dumps(bases[0])
    lines += [b"{", b"[1,]", b"\xef\xbb\xbf" + base, base[:-1] + b',"x":1.5}', base[:-1] + b',"x":1e400}',
              base[:-1] + b',"eventType":"FAIL"}', base[:-1] + b',"producer":"http://h"}', b"\xff\xfe",
              base.replace(b'"eventType"', b'"eventType":"START","eventType"'), b'"\\ud800"', b"5", b"null",
              base.replace(b"{", b'{"a":"\\u0000\\/\\u00e9\\ud83d\\ude00",', 1), base + b" ", b"[" + base + b"]"]
    count = settled(lines)
    assert 200 <= count <= len(lines) - 500, count  # both paths taken, many times
    compare(Block("m.ndjson", b"\n".join(lines), first_line=1))


def _valid(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` made a valid event: URIs where the spec wants them, facets with their required keys (the custom
    ``_schemaURL`` leaves each facet's content unchecked, as for any custom facet)."""
    doc = copy.deepcopy(doc)
    doc.update(producer="https://producer.example/x", schemaURL=CORE)
    for _, value in _nodes(doc):
        if isinstance(value, dict):
            for key in ("facets", "inputFacets", "outputFacets"):
                for facet in (value.get(key) or {}).values() if isinstance(value.get(key), dict) else ():
                    if isinstance(facet, dict):
                        facet.update(_producer="https://producer.example/x",
                                     _schemaURL="https://custom.example/Facet.json")
    return doc


def test_odd_facets_give_the_same_batches() -> None:
    """The facets the C derivation is held to the Python one with (malformed column lineage, nested schemas,
    symlinks to itself, odd parents): valid events around them, settled natively where the fast path can."""
    docs = [_valid(_plain(d)) for d in ODD]
    lines = [orjson.dumps(d) for d in docs]
    assert settled(lines) >= 3  # floats and 2**70 made text; a numeric parent namespace still falls back
    compare(Block("odd.ndjson", b"\n".join(lines * 2 + [orjson.dumps(_valid(ODD[2]))]), first_line=1))


def _plain(doc: Any) -> Any:
    """``doc`` with floats and integers beyond 64 bits as text (those the fast path leaves to the reference)."""
    if isinstance(doc, dict):
        return {k: _plain(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_plain(v) for v in doc]
    if isinstance(doc, float) or (isinstance(doc, int) and not isinstance(doc, bool) and abs(doc) >= 2**63):
        return str(doc)
    return doc


def test_an_event_left_half_way_is_taken_back(events: list[dict[str, Any]]) -> None:
    """An event the fast path gives up on after appending some of its facts (a custom schema facet whose field
    type is not text) leaves the facts exactly as they were: the reference path then handles it."""
    good = _valid(_plain(ODD[0]))
    bad = _valid(_plain(ODD[0]))
    bad["outputs"].append({"namespace": "s3://b", "name": "new", "facets": {  # a new schema and lineage facet
        "schema": {"fields": [{"name": "n", "type": "int"}]},
        "columnLineage": {"fields": {"n": {"inputFields": [{"namespace": "s3://b", "name": "src", "field": "m"}]}}}}})
    bad["outputs"].append({"namespace": "s3://b", "name": "late", "facets": {"schema": {
        "fields": [{"name": "a", "type": {"nested": True}}]}}})
    bad = _valid(bad)
    facts, seen, out = Facts(), set[str](), list[Any]()
    assert settles(orjson.dumps(good), facts, seen, out)
    before = copy.deepcopy((facts.events, facts.datasets, facts.symlinks, facts.lineage_edges, facts.lineage_inputs,
                            facts.lineage_uses, facts.lineage_facets, facts.schemas))
    assert not settles(orjson.dumps(bad), facts, seen, out)
    assert (facts.events, facts.datasets, facts.symlinks, facts.lineage_edges, facts.lineage_inputs,
            facts.lineage_uses, facts.lineage_facets, facts.schemas) == before
    assert len(out) == 1 and len(seen) == 1


def test_whole_files_and_gzip_take_the_fast_path(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    docs = _base_events(events)
    (tmp_path / "a.ndjson").write_bytes(ndjson(docs))
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(ndjson(docs[::-1])))
    (tmp_path / "c.json").write_bytes(orjson.dumps(docs))  # an array: the reference reads it
    blocks = list(read_blocks([tmp_path], split_bytes=None))
    assert [b.first_line for b in blocks] == [None, None, None]
    for block in blocks:
        compare(block)


def test_an_event_over_the_size_limit_is_refused_as_before(events: list[dict[str, Any]]) -> None:
    doc = _base_events(events)[0]
    big = copy.deepcopy(doc)
    big["run"]["facets"]["blob"] = {"_producer": "https://p.example", "_schemaURL": "https://s.example/B.json",
                                    "text": "x" * MAX_EVENT_BYTES}
    block = Block("big.ndjson", ndjson([doc, big, doc]), first_line=1)
    fast, ref = prepare_block(block), prepare(block.events())
    assert_same(fast, ref)
    assert len(ref.rejected) == 1 and "exceeds" in ref.rejected[0].message and ref.duplicates == 1


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_json_is_orjsons(value: Any) -> None:
    """The content id and schema hashes hash this text: it must be orjson's to the byte (sorted keys, its escapes)."""
    fast = fastpath.native()
    text = orjson.dumps(value)
    assert fast.canonical(text) == orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    assert fast.canonical(text, False) == text


@pytest.mark.parametrize("text", [b"1.5", b"[0.0]", b'{"a":1,"a":2}', b"1" * 30, b"[" * 300 + b"]" * 300, b"{"])
def test_what_canonical_json_leaves_to_the_reference(text: bytes) -> None:
    assert fastpath.native().canonical(text) is None


def test_byte_level_damage_gives_the_same_batches() -> None:
    """Lines damaged byte by byte (JSON punctuation, escapes, control and non-UTF-8 bytes put in, runs cut out): the
    fast path never crashes, and what it settles (damage inside strings that keeps the event valid) is the
    reference's answer; everything else is the reference's to reject."""
    lines = FIXTURE.read_bytes().splitlines()
    lines += [orjson.dumps(e) for e in synthetic_events(Shape(jobs=10, columns=4, seed=2))]
    rnd = random.Random(7)
    alphabet = b'{}[]":,\\0123456789.eE+-tfnulr \x00\x1f\x7f\xc3\xa9\xff'
    damaged = []
    for _ in range(1200):
        line = bytearray(rnd.choice(lines))
        for _ in range(rnd.choice((1, 1, 2, 3, 8))):
            op, i = rnd.random(), rnd.randrange(len(line))
            if op < 0.4:
                line[i] = rnd.choice(alphabet)
            elif op < 0.7:
                del line[i:i + rnd.randrange(1, 20)]
            else:
                line[i:i] = bytes(rnd.choice(alphabet) for _ in range(rnd.randrange(1, 5)))
        damaged.append(bytes(line).replace(b"\n", b" "))
    count = settled([d.strip() for d in damaged if d.strip()])
    assert 100 <= count <= 1000, count
    for start in range(0, len(damaged), 100):
        compare(Block("damaged.ndjson", b"\n".join(damaged[start:start + 100]), first_line=start + 1))


def test_the_fast_path_leaks_nothing(events: list[dict[str, Any]]) -> None:
    """Every object it makes is owned by the facts or freed, settled, left half-way or refused alike: a long
    ingest's workers stay flat."""
    import gc

    fast = fastpath.native()
    lines = [orjson.dumps(d) for d in _base_events(events)]
    lines += [orjson.dumps(_valid(_plain(d))) for d in ODD]
    half = _valid(_plain(ODD[0]))
    half["outputs"].append({"namespace": "s3://b", "name": "late", "facets": {"schema": {
        "fields": [{"name": "a", "type": {"nested": True}}]}}})
    lines += [orjson.dumps(_valid(half)), b"{", lines[0][:-1] + b',"x":1.5}', b"[" * 400 + b"]" * 400]

    data = b"\n".join(lines) + b"\n\n \r\n"

    def rounds(n: int) -> None:
        for _ in range(n):
            facts, seen, out = Facts(), set[str](), list[Any]()
            text, offsets, pos = bytearray(), bytearray(8), 0
            while (pos := fast.run_block(data, pos, facts, seen, out, text, offsets)[0]) < len(data):
                pos = data.index(b"\n", pos) + 1
        gc.collect()

    grown = memory_grown(rounds)
    assert grown < 8192, f"{grown} bytes more after 60 rounds"
