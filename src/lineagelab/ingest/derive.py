"""Facts one event states, as rows for the ``f_*`` tables. Pure: no store access, so order and rebuilds don't matter.

Column lineage is the bulk of an event (tens of rows each): each distinct facet of a batch is expanded once
(``column_lineage.py``), and recorded with the outputs that carry it; DuckDB joins the two when it stores them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, TypeVar

import orjson

from lineagelab.events.identity import parse_time, stable_id
from lineagelab.events.validation import EventKind
from lineagelab.ingest import column_lineage


@dataclass
class Facts:
    """Rows for the fact tables, accumulated over a batch of events (columnar lists, cheap to hand to Arrow)."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    datasets: list[tuple[Any, ...]] = field(default_factory=list)
    symlinks: list[tuple[Any, ...]] = field(default_factory=list)
    # columnLineage facets, each distinct one once (START and COMPLETE, and every run of a job, repeat them): its
    # content hash -> its number in this batch, its edges, the input datasets it names; and which output of which event
    # uses which
    lineage_facets: dict[str, int] = field(default_factory=dict)
    lineage_edges: list[list[Any]] = field(default_factory=lambda: [[] for _ in column_lineage.EDGE_LAYOUT])  # columns
    lineage_inputs: list[list[column_lineage.Named]] = field(default_factory=list)
    lineage_uses: list[tuple[Any, ...]] = field(default_factory=list)
    schemas: dict[str, list[tuple[str, str | None, str | None]]] = field(default_factory=dict)
    # schemas an earlier batch of the same ingest or rebuild carries (its workers see the same ones in every block):
    # not flattened nor sent again; that batch is stored first, or nothing after it is
    schemas_sent: set[str] = field(default_factory=set)
    run_keys: set[str] = field(default_factory=set)
    job_ids: set[int] = field(default_factory=set)
    ds_ids: set[int] = field(default_factory=set)
    # (event_id, number, JSON path, message): what events accepted with deviations from the spec were accepted with
    warnings: list[tuple[str, int, str, str]] = field(default_factory=list)


_NONE: Mapping[str, Any] = MappingProxyType({})


def _dict(value: Any) -> Mapping[str, Any]:
    # JSON objects parse to dicts; the test is ``dict``, not the ``Mapping`` ABC (measured: the ABC check was a
    # quarter of the time spent deriving facts)
    return value if isinstance(value, dict) else _NONE


def _flatten_fields(fields: Iterable[Any], prefix: str = "") -> list[tuple[str, str | None, str | None]]:
    out: list[tuple[str, str | None, str | None]] = []
    for f in fields:
        if not isinstance(f, dict) or not isinstance(f.get("name"), str):
            continue
        name = prefix + f["name"]
        out.append((name, _text_or_none(f.get("type")), _text_or_none(f.get("description"))))
        nested = f.get("fields")
        if isinstance(nested, list):
            out.extend(_flatten_fields(nested, name + "."))
    return out


#: Schema and column-lineage hashes are the first 96 bits of a SHA-256 (OpenSSL's, with the CPU's SHA instructions:
#: measured 2.7 us per 3 KB against 4.5 for the blake2b-96 they were, a worker hashing ~5 KB an event)
CONTENT_HASH_CHARS = 24


def schema_hash(fields: Any) -> str:
    """The content hash of schema fields (and of column-lineage facets: ``lineage_hash``): the same value, whatever
    the key order of its objects, gives the same hash."""
    try:
        text = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits
        text = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(text).hexdigest()[:CONTENT_HASH_CHARS]


def lineage_hash(lineage: dict[str, Any]) -> str:
    """A columnLineage facet's content hash: its edges are stored once (``lineage_edges``), whichever events and
    outputs carry it, and a batch expands each once."""
    return schema_hash(lineage)  # the same content hash of the sorted JSON


def event_time_of(doc: Mapping[str, Any]) -> datetime | None:
    value = doc.get("eventTime")
    return parse_time(value) if isinstance(value, str) else None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(when: datetime | None) -> int | None:
    """An event time in microseconds since the epoch, as fact and raw rows carry it: Arrow takes an int 10x faster
    than an aware datetime."""
    return None if when is None else (when - _EPOCH) // _MICROSECOND


Field = tuple[str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Lineage:
    """A columnLineage facet: its content hash, its edges as columns (without the facet's number, given per batch)
    and the input datasets it names."""

    key: str
    edges: tuple[tuple[Any, ...], ...]
    named: list[column_lineage.Named]


@dataclass(frozen=True, slots=True)
class DatasetFacts:
    """What one dataset of an event states, whichever event carries it: the same dataset object (an input, an output
    or a static one), the same facts. The bulk ingest remembers them by the dataset's text (``memo.py``)."""

    ds_id: int
    namespace: Any
    name: Any
    schema: tuple[str, list[Field]] | None  # content hash, flat fields
    lifecycle: str | None
    row_count: int | None
    symlinks: tuple[tuple[int, str, str, Any], ...]  # (alias_id, namespace, name, type)
    lineage: Lineage | None  # outputs only


@dataclass(frozen=True, slots=True)
class FacetFacts:
    """What a dataset's ``facets`` object states, whichever dataset carries it in ``role``: START and COMPLETE of a run
    often repeat a dataset's facets with other output facets, so the bulk ingest remembers these apart
    (``memo.py``)."""

    schema: tuple[str, list[Field]] | None
    lifecycle: str | None
    symlinks: tuple[tuple[int, str, str, Any], ...]  # every one named, the dataset itself too
    lineage: Lineage | None


def facet_facts(role: str, facets: Any) -> FacetFacts:
    """The facts of one dataset's ``facets`` object in ``role`` ("input", "output", "static")."""
    facets = _dict(facets)
    schema = None
    fields = _dict(facets.get("schema")).get("fields")
    if isinstance(fields, list):
        shash = schema_hash(fields)
        flat = _flat.get(shash)
        if flat is None:
            flat = _remember(_flat, shash, _flatten_fields(fields))
        schema = shash, flat
    lifecycle = _dict(facets.get("lifecycleStateChange")).get("lifecycleStateChange")
    symlinks = []
    for ident in _dict(facets.get("symlinks")).get("identifiers") or ():
        ident = _dict(ident)
        ans, aname = ident.get("namespace"), ident.get("name")
        if isinstance(ans, str) and isinstance(aname, str):
            symlinks.append((stable_id(ans, aname), ans, aname, _text_or_none(ident.get("type"))))
    lineage = None
    facet = facets.get("columnLineage")
    if role == "output" and isinstance(facet, dict):
        key = lineage_hash(facet)
        lineage = _lineage.get(key)
        if lineage is None:
            lineage = _remember(_lineage, key, Lineage(key, *column_lineage.expand(facet)))
    return FacetFacts(schema, lifecycle if isinstance(lifecycle, str) else None, tuple(symlinks), lineage)


def dataset_facts(role: str, ds: Any, facets: FacetFacts | None = None) -> DatasetFacts:
    """The facts of one dataset of an event in ``role`` ("input", "output", "static"); ``facets``: those of its
    ``facets`` object, when known already."""
    ds = _dict(ds)
    namespace, name = ds["namespace"], ds["name"]
    if facets is None:
        facets = facet_facts(role, ds.get("facets"))
    stats = _dict(_dict(ds.get("outputFacets")).get("outputStatistics")).get("rowCount")
    symlinks = facets.symlinks
    if symlinks:  # a dataset is no alias of itself
        symlinks = tuple(s for s in symlinks if (s[1], s[2]) != (namespace, name))
    return DatasetFacts(stable_id(namespace, name), namespace, name, facets.schema, facets.lifecycle,
                        stats if isinstance(stats, int) and not isinstance(stats, bool) else None, symlinks,
                        facets.lineage)


#: Flat schemas and expanded lineage facets by content hash: a dataset object seen for the first time often holds a
#: schema or facet seen before (a table's schema as written, then as read; the same lineage at START and COMPLETE)
_flat: dict[str, list[Field]] = {}
_lineage: dict[str, Lineage] = {}
_REMEMBERED = 16_384
T = TypeVar("T")


def _remember(memory: dict[str, T], key: str, value: T) -> T:
    if len(memory) >= _REMEMBERED:
        memory.clear()
    memory[key] = value
    return value


#: The datasets of an event: (role, its facts), in the event's order
Datasets = list[tuple[str, DatasetFacts]]


def datasets_of(kind: EventKind, doc: Mapping[str, Any]) -> Datasets:
    if kind is EventKind.DATASET:
        return [("static", dataset_facts("static", doc.get("dataset")))]
    return [*(("input", dataset_facts("input", ds)) for ds in _named(doc.get("inputs"))),
            *(("output", dataset_facts("output", ds)) for ds in _named(doc.get("outputs")))]


def _named(datasets: Any) -> list[Any]:
    """The datasets of an array that name themselves (an event accepted with warnings may hold others: they yield
    no facts)."""
    if not isinstance(datasets, list):
        return []
    return [ds for ds in datasets if isinstance(ds, dict) and type(ds.get("namespace")) is str
            and type(ds.get("name")) is str]


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def derive(facts: Facts, event_id: str, kind: EventKind, doc: Mapping[str, Any], when: datetime | None,
           datasets: Datasets | None = None) -> None:
    """Append the facts of one valid event to ``facts`` (``datasets``: its datasets' facts, when known already)."""
    event_time = micros(when)
    job = _dict(doc.get("job"))
    run = _dict(doc.get("run"))
    is_run = kind is EventKind.RUN
    event_type = doc.get("eventType") if is_run else None
    if event_type is not None and type(event_type) is not str:  # accepted with a warning: no type then
        event_type = None
    job_id: int | None = None
    run_key: str | None = None
    if job:
        job_id = stable_id(job["namespace"], job["name"])
        facts.job_ids.add(job_id)
    if is_run:
        run_key = str(run["runId"])
    elif kind is EventKind.JOB:
        run_key = f"job-event:{event_id}"  # a JobEvent declares static lineage: treated as a run of its own
    if run_key is not None:
        facts.run_keys.add(run_key)

    run_facets = _dict(run.get("facets"))
    parent = _dict(run_facets.get("parent"))
    parent_run = _text_or_none(_dict(parent.get("run")).get("runId"))
    parent_job = _dict(parent.get("job"))
    parent_job_key = f"{parent_job.get('namespace')}.{parent_job.get('name')}" if parent_job else None
    error = _dict(run_facets.get("errorMessage")).get("message")
    facts.events.append((event_id, kind.value, run_key, job_id, job.get("namespace"), job.get("name"), event_type,
                         event_time, parent_run, parent_job_key, error if isinstance(error, str) else None))

    if datasets is None:
        datasets = datasets_of(kind, doc)
    written = is_run and event_type == "COMPLETE"
    rows, ds_ids, schemas, sent = facts.datasets, facts.ds_ids, facts.schemas, facts.schemas_sent
    first = len(rows)  # this event's rows start here
    used: list[Lineage] = []  # the lineage facets of its outputs
    for role, d in datasets:
        ds_id = d.ds_id
        ds_ids.add(ds_id)
        shash = None
        if d.schema is not None:
            shash = d.schema[0]
            if shash not in schemas and shash not in sent:
                schemas[shash] = d.schema[1]
        rows.append((event_id, run_key, job_id, ds_id, d.namespace, d.name, role, event_time, event_type, shash,
                     written and role == "output", d.lifecycle, d.row_count))
        if d.symlinks:
            facts.symlinks.extend([(event_id, ds_id, *s) for s in d.symlinks])
        lineage = d.lineage
        if lineage is not None:
            number = facts.lineage_facets.get(lineage.key)
            if number is None:
                number = facts.lineage_facets[lineage.key] = len(facts.lineage_facets)
                columns = facts.lineage_edges
                columns[0].extend([number] * len(lineage.edges[0]))
                for column, values in zip(columns[1:], lineage.edges, strict=True):
                    column.extend(values)
                facts.lineage_inputs.append(lineage.named)
            facts.lineage_uses.append((event_id, run_key, job_id, event_time, event_type, ds_id, number))
            used.append(lineage)
    # Datasets named only inside column lineage (not among the event's inputs) still need a name in the model.
    if used:
        own = {row[3] for row in rows[first:]}
        for lineage in used:
            for in_ds, namespace, name in lineage.named:
                if in_ds not in own:
                    own.add(in_ds)
                    ds_ids.add(in_ds)
                    rows.append((event_id, run_key, job_id, in_ds, namespace, name, "ref", event_time, event_type,
                                 None, False, None, None))
