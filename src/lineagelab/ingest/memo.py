"""The bulk ingest's memory of datasets: what an event's inputs and outputs state, remembered by their exact text.

Datasets are most of an event's bytes and of its work (parsing, their facets' schemas checked, schema and
column-lineage hashes, lineage expanded), and they repeat: START and COMPLETE of a run carry the same ones, every run
of a job again, and a popular source is read by many jobs. So a worker reads an NDJSON line in two steps: msgspec
cuts it into its top-level values, the ``inputs`` and ``outputs`` arrays into their items, without making objects;
everything but those items is parsed (orjson) and checked as the rest of the event (``validation.accepts``: an event
is valid exactly when that rest and each item are). An item whose exact bytes were seen before, in the same array,
is the same dataset: valid, with the same facts (``DatasetFacts``) and the same canonical JSON (sorted keys), which
goes into the event's content id as it is (``orjson.Fragment``), the bytes ``orjson.dumps`` of the whole gives.
Only a new item is parsed, checked and derived, once.

Whatever this does not settle (a line to reject, a dataset event, a value orjson will not write back) goes down
the reference path (``reader.read_line``, ``prepare.accept``), which reads the line again and names any problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from lineagelab.events.validation import EventKind, InvalidEvent, accepts, event_kind
from lineagelab.ingest.derive import DatasetFacts, Datasets, FacetFacts, dataset_facts, event_time_of, facet_facts
from lineagelab.ingest.prepare import Batch, Pending, Rejection, accept, batch_of, prepare
from lineagelab.ingest.reader import MAX_EVENT_BYTES, Block, ndjson_lines, numbered_lines, read_line

#: Datasets remembered per array before the memory starts again (a few KB each: ~50 MB at most)
LIMIT = 16_384

_SORT = orjson.OPT_SORT_KEYS
_TOP = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])
#: the arrays of datasets (in the order ``derive.datasets_of`` takes them): their role and core schema definition
_ARRAYS = {"inputs": ("input", "InputDataset"), "outputs": ("output", "OutputDataset")}
#: the objects whose ``facets`` are remembered by their text (a run's START and COMPLETE, a job's every run repeat
#: them, and Spark's run facets are most of a small event): the definition checking them alone
_HOLDERS = {"run": "RunFacets", "job": "JobFacets"}
_EMPTY: dict[str, Any] = {}


@dataclass(frozen=True, slots=True)
class _KnownFacets:
    canonical: orjson.Fragment
    facts: FacetFacts


@dataclass(frozen=True, slots=True)
class _Known:
    canonical: orjson.Fragment  # the item as ``orjson.dumps(item, option=OPT_SORT_KEYS)`` writes it
    facts: DatasetFacts


class Memo:
    """Accepts NDJSON lines as ``accept(read_line(…))`` does, remembering their datasets (one per process)."""

    def __init__(self) -> None:
        self._seen: dict[str, dict[bytes, _Known]] = {key: {} for key in _ARRAYS}
        # facets objects valid in a run or job, by their exact text: (parsed, canonical JSON)
        self._facets: dict[str, dict[bytes, tuple[dict[str, Any], orjson.Fragment]]] = {k: {} for k in _HOLDERS}
        # a dataset's facets object valid in an array, by its exact text: a run's START and COMPLETE often carry
        # the same facets (schema, column lineage: most of the bytes) beside different output facets
        self._ds_facets: dict[str, dict[bytes, _KnownFacets]] = {key: {} for key in _ARRAYS}
        self._splits = {key: [0, 0, 0] for key in _ARRAYS}  # see _split

    def accept_line(self, line: bytes, source: str, number: int) -> Pending | Rejection:
        """One NDJSON line (stripped, not blank), numbered ``number`` in ``source``."""
        item = self._settle(line) if len(line) <= MAX_EVENT_BYTES else None
        return item if item is not None else accept(read_line(line, source, number))

    def _settle(self, line: bytes) -> Pending | None:
        """The line's event if it is valid and nothing in it needs the reference path, else None."""
        loads = orjson.loads
        doc: dict[str, Any] = {}
        arrays: list[tuple[str, list[msgspec.Raw]]] = []
        # (the run or job object, its facets parsed, their canonical JSON): checked apart, put back once valid
        holders: list[tuple[dict[str, Any], dict[str, Any], orjson.Fragment]] = []
        try:
            for key, raw in _TOP.decode(line).items():
                if key in _ARRAYS:
                    arrays.append((key, _ITEMS.decode(raw)))
                    doc[key] = []
                elif key in _HOLDERS:  # not an object: the reference path names the problem
                    part = doc[key] = {}
                    for name, value in _TOP.decode(raw).items():
                        if name == "facets":
                            text = bytes(value)
                            facets = self._facets[key].get(text) or self._learn_facets(key, text)
                            if facets is None:
                                return None
                            part[name] = _EMPTY
                            holders.append((part, *facets))
                        else:
                            part[name] = loads(memoryview(value))  # type: ignore[arg-type]
                else:
                    doc[key] = loads(memoryview(raw))  # type: ignore[arg-type]
            kind = event_kind(doc)
        except (msgspec.DecodeError, orjson.JSONDecodeError, InvalidEvent):
            return None
        if kind is EventKind.DATASET:
            return None
        datasets: Datasets = []
        canonical: dict[str, list[orjson.Fragment]] = {}
        for key, items in sorted(arrays, key=lambda a: a[0]):
            seen = self._seen[key]
            role = _ARRAYS[key][0]
            parts = canonical[key] = []
            for raw in items:
                text = bytes(raw)
                known = seen.get(text)
                if known is None:
                    known = self._learn(key, text)
                    if known is None:
                        return None
                datasets.append((role, known.facts))
                parts.append(known.canonical)
        valid = accepts(kind.value)
        if valid is None or not valid(doc):
            return None
        try:
            event_time = event_time_of(doc)
        except ValueError:
            return None
        doc.update(canonical)
        for part, _, fragment in holders:
            part["facets"] = fragment
        try:
            text = orjson.dumps(doc, option=_SORT)
        except TypeError:  # integers beyond 64 bits, or text orjson does not write
            return None
        for part, parsed, _ in holders:
            part["facets"] = parsed
        return Pending(hashlib.sha256(text).hexdigest()[:32], kind, doc, line, event_time, datasets)

    def _learn(self, key: str, text: bytes) -> _Known | None:
        """A dataset seen for the first time: parsed, checked and derived, remembered if valid. Its ``facets`` are
        remembered too (``_split``): if another dataset of the array carries the same text, only the rest of it is
        parsed and checked (a valid item has valid facets: nothing but their container's definition looks into
        them)."""
        role, definition = _ARRAYS[key]
        memory = self._ds_facets[key]
        raw: bytes | None = None
        facets: _KnownFacets | None = None
        try:
            if self._split(key):
                item: Any = {}
                for name, value in _TOP.decode(text).items():
                    if name == "facets":
                        raw = bytes(value)
                        facets = memory.get(raw)
                        item[name] = _EMPTY if facets is not None else orjson.loads(raw)
                    else:
                        item[name] = orjson.loads(memoryview(value))  # type: ignore[arg-type]
                self._splits[key][2] += facets is not None
            else:
                item = orjson.loads(text)
            valid = accepts(definition)
            if valid is None or not valid(item):
                return None
            if raw is not None and facets is None:
                parsed = item["facets"]
                facets = _KnownFacets(orjson.Fragment(orjson.dumps(parsed, option=_SORT)), facet_facts(role, parsed))
                if len(memory) >= LIMIT:
                    memory.clear()
                memory[raw] = facets
            if facets is not None:
                item["facets"] = facets.canonical
            canonical = orjson.dumps(item, option=_SORT)
        except (msgspec.DecodeError, orjson.JSONDecodeError, TypeError):
            return None
        seen = self._seen[key]
        if len(seen) >= LIMIT:
            seen.clear()
        known = seen[text] = _Known(orjson.Fragment(canonical),
                                    dataset_facts(role, item, None if facets is None else facets.facts))
        return known

    def _split(self, key: str) -> bool:
        """Whether to take a new dataset's facets apart, to remember them: while that pays (their text was found in
        at least one in eight tries: taking apart costs ~10% of learning a dataset), and every 32nd dataset anyway,
        in case the input changes."""
        counts = self._splits[key]  # datasets learned, facets looked up, found
        counts[0] += 1
        if counts[1] < 64 or counts[2] * 8 >= counts[1] or counts[0] % 32 == 0:
            counts[1] += 1
            return True
        return False

    def _learn_facets(self, key: str, text: bytes) -> tuple[dict[str, Any], orjson.Fragment] | None:
        """A run's or job's facets seen for the first time: parsed and checked, remembered if valid."""
        try:
            facets = orjson.loads(text)
            canonical = orjson.dumps(facets, option=_SORT)
        except (orjson.JSONDecodeError, TypeError):
            return None
        valid = accepts(_HOLDERS[key])
        if not isinstance(facets, dict) or valid is None or not valid(facets):
            return None
        seen = self._facets[key]
        if len(seen) >= LIMIT:
            seen.clear()
        known = seen[text] = facets, orjson.Fragment(canonical)
        return known

    def accept_block(self, source: str, data: bytes, first: int) -> Iterator[Pending | Rejection]:
        for number, line in numbered_lines(data, first):
            yield self.accept_line(line, source, number)


def memo() -> Memo:
    """This process's memory (made on first use)."""
    global _memo
    if _memo is None:
        _memo = Memo()
    return _memo


_memo: Memo | None = None


def prepare_block(block: Block, schemas_sent: set[str] | None = None) -> Batch:
    """A worker process's task (see ``parallel.py``): ``prepare`` of a block, NDJSON lines with this process's
    memory. Its pending events' ``doc`` hold the datasets' canonical JSON, not the parsed datasets."""
    block = block.loaded()
    lines = ndjson_lines(block)
    batch = prepare(block.events(), schemas_sent) if lines is None else batch_of(
        memo().accept_block(block.source, *lines), schemas_sent)
    if block.first_line is not None:
        batch.lines = block.data.count(b"\n")
    return batch
