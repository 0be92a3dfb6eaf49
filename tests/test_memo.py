"""The bulk ingest's memory of datasets (``ingest/memo.py``) gives the batches of the reference path, row for row.

The reference is ``prepare`` over the reader's parsed events (``accept``: orjson, ``validate_event``, ``derive``); the
workers' path is ``prepare_block``, which remembers datasets by their text and sends whatever it does not settle down
that reference path. Every test compares whole batches (raw rows, fact tables, key sets, rejections with their line
numbers, duplicate counts), and checks that the memory was really used where it should be.
"""

from __future__ import annotations

import copy
import gzip
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lineagelab.ingest import memo
from lineagelab.ingest.memo import Memo, prepare_block
from lineagelab.ingest.prepare import Batch, Pending, prepare
from lineagelab.ingest.reader import MAX_EVENT_BYTES, Block, read_blocks
from lineagelab.simulator.synthetic import Shape
from lineagelab.simulator.synthetic import events as synthetic_events
from tests.test_derive import ODD

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "events" / "seed_scenarios.ndjson"


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


def compare(block: Block) -> None:
    sent_fast: set[str] = set()
    sent_ref: set[str] = set()
    assert_same(prepare_block(block, sent_fast), prepare(block.events(), sent_ref))
    assert sent_fast == sent_ref  # the schemas later batches leave out


def settled(lines: list[bytes]) -> int:
    """How many of ``lines`` a fresh memory settles itself (the others go down the reference path)."""
    m = Memo()
    return sum(isinstance(m._settle(line), Pending) for line in lines)


def ndjson(docs: list[Any]) -> bytes:
    return b"".join(orjson.dumps(d) + b"\n" for d in docs)


def base_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*events, *(orjson.loads(line) for line in FIXTURE.read_bytes().splitlines())]


def test_real_events_are_settled_and_give_the_same_batches(events: list[dict[str, Any]]) -> None:
    docs = [*base_events(events), *synthetic_events(Shape(jobs=40, columns=6, seed=5))]
    lines = [orjson.dumps(d) for d in docs]
    assert settled(lines) == len(lines)  # every real event: no fallback at all
    # with what a real file holds besides: blank lines, repeats (also in another key order), CRLF line ends
    data = ndjson(docs[:30]) + b"\n  \n" + lines[3] + b"\r\n" + orjson.dumps(dict(reversed(docs[4].items()))) + b"\n"
    compare(Block("f.ndjson", data + ndjson(docs[30:]), first_line=7))


def test_a_dataset_seen_before_vouches_only_for_its_exact_text(events: list[dict[str, Any]],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Datasets one byte away from a remembered one, made invalid, are still refused; valid ones a byte apart get
    their own facts, in any order."""
    monkeypatch.setenv("LINEAGELAB_STRICT", "1")  # the full validation refuses them (else: accepted with warnings)
    base = next(e for e in base_events(events)
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
        else:
            fields[0]["type"] = {"not": "a type"}
        docs.append(doc)
    lines = [orjson.dumps(d) for d in docs]
    assert settled(lines) == len([i for i in range(40) if i % 3 == 0])
    batch = prepare_block(Block("facets.ndjson", b"\n".join(lines), first_line=1)).arrow()
    assert len(batch.rejected) == len(docs) - len(batch.ids) > 20
    assert len(set(batch.facts.tables["f_datasets"].column("schema_hash").to_pylist()) - {None}) >= 2
    compare(Block("facets.ndjson", b"\n".join(lines), first_line=1))


def test_datasets_sharing_their_facets_get_their_own_facts(events: list[dict[str, Any]]) -> None:
    """The facets of a dataset are remembered apart from the rest of it: other names (a symlink naming the dataset
    itself is no alias of it) and other output facets on the same facets give their own facts."""
    base = next(e for e in base_events(events) if e.get("outputs") and e["outputs"][0].get("facets"))
    docs = []
    for i in range(12):
        doc = copy.deepcopy(base)
        doc["run"]["runId"] = f"01234567-89ab-7def-8123-{i:012d}"
        out = doc["outputs"][0]
        out["facets"]["symlinks"] = {"_producer": "https://p.example", "_schemaURL": "https://openlineage.io/spec/"
                                     "facets/1-0-1/SymlinksDatasetFacet.json#/$defs/SymlinksDatasetFacet",
                                     "identifiers": [{"namespace": "ns", "name": "t2", "type": "TABLE"}]}
        out["namespace"], out["name"] = ("ns", f"t{i % 4}")
        out["outputFacets"] = {"outputStatistics": {
            "_producer": "https://p.example", "rowCount": i, "_schemaURL": "https://openlineage.io/spec/facets/"
            "1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"}}
        docs.append(doc)
    m = Memo()
    assert all(isinstance(m._settle(orjson.dumps(d)), Pending) for d in docs)
    assert len(m._seen["outputs"]) == 12 and len(m._ds_facets["outputs"]) == 1
    compare(Block("shared.ndjson", ndjson(docs), first_line=1))


_TRICKY: list[Any] = [None, True, False, 0, -1, 1.0, 1.5, 2**70, [], {}, ["x"], {"a": 1}, "", "x", "not a uri",
                      "s3://bucket/key", "http://h/a b", "2024-01-01T00:00:00Z", "2024-02-30T00:00:00Z",
                      "00000000-0000-0000-0000-000000000000", "START", "FINISHED",
                      {"_producer": "https://p", "_schemaURL": "https://s"}]


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
        path, value = rnd.choice(list(_nodes(doc))[1:])
        parent: Any = doc
        for p in path[:-1]:
            parent = parent[p]
        action = rnd.random()
        if action < 0.25 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.4 and isinstance(value, dict):
            value[rnd.choice(["extra", "_deleted", "fields", "name", "_schemaURL", "type"])] = rnd.choice(_TRICKY)
        elif action < 0.5 and isinstance(value, dict):
            value["_schemaURL"] = rnd.choice(urls)
        else:
            parent[path[-1]] = copy.deepcopy(rnd.choice(_TRICKY))
    return doc


def test_mutated_and_odd_lines_give_the_same_batches(events: list[dict[str, Any]]) -> None:
    bases = [e for e in base_events(events) if "run" in e]
    urls = sorted({v["_schemaURL"] for e in bases for _, v in _nodes(e)
                   if isinstance(v, dict) and isinstance(v.get("_schemaURL"), str)})
    rnd = random.Random(1126)
    lines = []
    for _ in range(1500):
        doc = _mutate(rnd.choice(bases), rnd, urls)
        lines.append(json.dumps(doc, separators=(",", ":")).encode())  # 2**70 too
        if rnd.random() < 0.3:
            lines.append(lines[-1])  # a repeat: the memory's answer
    # and lines no parsed document can stand for: JSON the reader refuses, floats, duplicate keys, escapes
    base = orjson.dumps(bases[0])
    lines += [b"{", b"[1,]", b"\xef\xbb\xbf" + base, base[:-1] + b',"x":1.5}', base[:-1] + b',"x":1e400}',
              base[:-1] + b',"eventType":"FAIL"}', b"\xff\xfe", b'"\\ud800"', b"5", b"null",
              base.replace(b'"eventType"', b'"eventType":"START","eventType"'),
              base.replace(b'"inputs":', b'"inputs":[],"inputs":', 1),
              base.replace(b'"outputs":[', b'"outputs":[7,', 1),
              base.replace(b"{", b'{"a":"\\u0000\\/\\u00e9\\ud83d\\ude00",', 1), base + b" ", b"[" + base + b"]",
              base.replace(b'"name":"', b'"name":"\\ud800', 1), b"[" * 300 + b"]" * 300]
    lines += [json.dumps(d, separators=(",", ":")).encode() for d in ODD]
    count = settled(lines)
    assert 200 <= count <= len(lines) - 500, count  # both paths taken, many times
    for start in range(0, len(lines), 400):
        compare(Block("m.ndjson", b"\n".join(lines[start:start + 400]), first_line=start + 1))


def test_byte_level_damage_gives_the_same_batches() -> None:
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
    assert 100 <= settled([d.strip() for d in damaged if d.strip()]) <= 1000
    for start in range(0, len(damaged), 200):
        compare(Block("damaged.ndjson", b"\n".join(damaged[start:start + 200]), first_line=start + 1))


def test_whole_files_gzip_and_the_size_limit(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    docs = base_events(events)
    big = copy.deepcopy(docs[0])
    big["run"]["facets"]["blob"] = {"_producer": "https://p.example", "_schemaURL": "https://s.example/B.json",
                                    "text": "x" * MAX_EVENT_BYTES}
    (tmp_path / "a.ndjson").write_bytes(ndjson([*docs, big, docs[0]]))
    (tmp_path / "b.ndjson.gz").write_bytes(gzip.compress(ndjson(docs[::-1])))
    (tmp_path / "c.json").write_bytes(orjson.dumps(docs))  # an array: the reference reads it
    for block in read_blocks([tmp_path], split_bytes=None):
        compare(block)


def test_the_memory_starts_again_when_full(events: list[dict[str, Any]], monkeypatch: Any) -> None:
    monkeypatch.setattr(memo, "LIMIT", 3)
    docs = [*base_events(events), *synthetic_events(Shape(jobs=20, columns=4, seed=3))]
    compare(Block("small.ndjson", ndjson(docs * 2), first_line=1))
