"""Replay stored events to a DataZone domain, the Glue lineage API or any OpenLineage HTTP backend, exactly once.

Exactly once comes from three things together:

* a deterministic Client-Token per *mapped* event (a hash of the bytes sent), so a resend is recognised by DataZone;
* the ledger row is committed as ``sending`` before the request leaves and as ``sent`` (with DataZone's id) after the
  answer (``ledger``): a crash in between resends with the same token, which DataZone answers with the same id;
* the sink retries throttling, 5xx and dropped connections with the same token (``events.sinks.RetryPolicy``:
  botocore's standard retry mode for DataZone). A 4xx is recorded with the target's message and the replay goes on.

The Glue lineage API has no client token: there the ledger alone carries the guarantee (one event in flight at a
time, resent after a crash only if its answer was not recorded; ``lineagelab serve`` stores an identical event once,
so against it the result is exactly once too). It takes DatasetEvents as well as RunEvents (``Service``).

Events over the service's 300,000-byte (DataZone) or 300,000-character (Glue) limit lose optional heavy facets,
heaviest first (``HEAVY_FACETS``), until they fit; an event that still does not fit is refused with a message, never
truncated.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from lineagelab.aws_targets import ledger
from lineagelab.aws_targets.mapping import Mapping_
from lineagelab.events import naming
from lineagelab.events.sinks import ExactSink, Refused
from lineagelab.events.sinks.datazone import MAX_EVENT_BYTES, DataZoneSink
from lineagelab.events.sinks.glue import KINDS as GLUE_KINDS
from lineagelab.events.sinks.glue import MAX_EVENT_CHARS, GlueLineageSink, event_size
from lineagelab.events.sinks.http import HttpSink
from lineagelab.events.validation import InvalidEvent, validate_event
from lineagelab.store.store import Store

#: Dropped in this order from an event over the limit (run facets, then dataset facets); lineage itself stays.
HEAVY_FACETS = ("spark.logicalPlan", "spark_unknown", "spark_properties", "debug", "gcp_dataproc_spark",
                "environment-properties:other", "schema:inputs", "columnLineage:dataset", "columnLineage")


@dataclass(frozen=True)
class Service:
    """What a replay target takes: which event kinds, and how large an event may be."""

    name: str
    kinds: tuple[str, ...]
    limit: int
    unit: str  # what ``limit`` counts: bytes or characters
    measure: Callable[[bytes], int] = len

    def size(self, body: bytes) -> int:
        return self.measure(body)


DATAZONE = Service("DataZone", ("RunEvent",), MAX_EVENT_BYTES, "bytes")
GLUE = Service("the Glue lineage API", GLUE_KINDS, MAX_EVENT_CHARS, "characters", event_size)
#: ``--service`` -> what it takes
SERVICES: dict[str, Service] = {"datazone": DATAZONE, "glue": GLUE}


@dataclass
class Prepared:
    event_id: str
    body: bytes
    token: str
    doc: dict[str, Any]
    dropped: list[str] = field(default_factory=list)
    problem: str | None = None


@dataclass
class Report:
    selected: int = 0
    skipped_not_run_events: int = 0  # events of a kind the service does not take
    kinds: dict[str, int] = field(default_factory=dict)  # selected events by kind
    already_sent: int = 0
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    trimmed: int = 0
    resumed: int = 0  # left in flight by an earlier replay, sent again under their token
    seconds: float = 0.0


def client_token(body: bytes) -> str:
    return "ll-" + hashlib.sha256(body).hexdigest()[:61]


def _drop(doc: dict[str, Any], facet: str) -> bool:
    """Remove one kind of optional facet from an event; True if anything was removed."""
    removed = False
    if facet in ("environment-properties:other",):
        env = ((doc.get("run") or {}).get("facets") or {}).get("environment-properties")
        props = env.get("environment-properties") if isinstance(env, dict) else None
        if isinstance(env, dict) and isinstance(props, dict):
            keep = {k: v for k, v in props.items() if k.startswith(("GLUE_", "AWS_"))}
            removed = keep != props
            env["environment-properties"] = keep
        return removed
    if facet == "schema:inputs":
        for ds in doc.get("inputs") or []:
            removed |= (ds.get("facets") or {}).pop("schema", None) is not None
        return removed
    if facet == "columnLineage:dataset":
        for ds in doc.get("outputs") or []:
            cl = (ds.get("facets") or {}).get("columnLineage")
            if isinstance(cl, dict) and cl.get("dataset"):
                cl.pop("dataset")
                removed = True
        return removed
    run_facets = (doc.get("run") or {}).get("facets") or {}
    removed |= run_facets.pop(facet, None) is not None
    datasets = [*(doc.get("inputs") or []), *(doc.get("outputs") or [])]
    if isinstance(doc.get("dataset"), dict):  # a DatasetEvent's one dataset
        datasets.append(doc["dataset"])
    for ds in datasets:
        removed |= (ds.get("facets") or {}).pop(facet, None) is not None
    return removed


def prepare(event_id: str, raw: str, mapping: Mapping_, service: Service = DATAZONE) -> Prepared:
    doc = mapping.event(orjson.loads(raw))
    body = orjson.dumps(doc)
    dropped: list[str] = []
    for facet in HEAVY_FACETS:
        if service.size(body) <= service.limit:
            break
        if _drop(doc, facet):
            dropped.append(facet)
            body = orjson.dumps(doc)
    p = Prepared(event_id, body, client_token(body), doc, dropped)
    if service.size(body) > service.limit:
        p.problem = (f"{service.size(body):,} {service.unit} after dropping {', '.join(dropped) or 'no'} optional "
                     f"facets; {service.name} accepts at most {service.limit:,}")
        return p
    try:
        validate_event(doc)
    except InvalidEvent as exc:
        p.problem = f"invalid after mapping: {exc}"
    return p


def source_identifiers(doc: dict[str, Any]) -> dict[str, list[str]]:
    """The DataZone (and Glue lineage API) node identities an event's datasets and job will get."""
    if isinstance(doc.get("dataset"), dict):  # a DatasetEvent
        ds = doc["dataset"]
        return {"dataset": [naming.dataset_source_identifier(ds["namespace"], ds["name"], ds.get("facets") or {})]}
    glue = naming.has_glue_environment((doc.get("run") or {}).get("facets") or {})
    ids = {side: [naming.dataset_source_identifier(d["namespace"], d["name"], d.get("facets") or {}, glue_run=glue)
                  for d in doc.get(side) or []] for side in ("inputs", "outputs")}
    job = doc["job"]
    ids["job"] = [naming.job_source_identifier(job["namespace"], job["name"])]
    ids["job_run"] = [naming.job_run_source_identifier(job["namespace"], job["name"], doc["run"]["runId"])]
    return ids


def select_events(store: Store, **filters: Any) -> Iterator[tuple[str, str, str]]:
    """(event_id, kind, raw) in eventTime order (``since``, ``until``, ``job``, ``run``)."""
    return store.iter_events(**filters)


def open_target(*, domain: str | None = None, to: str | None = None, region: str | None = None,
                endpoint_url: str | None = None, token: str | None = None, service: str = "datazone") -> ExactSink:
    """The sink a replay sends through: a DataZone ``domain`` (at ``endpoint_url``, else AWS in ``region``), the Glue
    lineage API (``service="glue"``: at ``endpoint_url``, else AWS in ``region``) or the OpenLineage HTTP backend at
    ``to``. Its ``target`` names it in the ledger."""
    if service not in SERVICES:
        raise ValueError(f"service {service!r} is not one of {', '.join(SERVICES)}")
    if service == "glue":
        if domain is not None or to is not None:
            raise ValueError("the Glue lineage API takes no DataZone domain and no OpenLineage URL")
        return GlueLineageSink(region=region, endpoint_url=endpoint_url)
    if (domain is None) == (to is None):
        raise ValueError("give a DataZone domain or an OpenLineage HTTP URL, one of them")
    if domain is not None:
        return DataZoneSink(domain, region=region, endpoint_url=endpoint_url)
    return HttpSink(str(to), token=token)


def replay(
    store: Store,
    sender: ExactSink,
    mapping: Mapping_,
    *,
    wait_processed: float = 0.0,
    progress: Callable[[int], None] | None = None,
    flush_every: int = 50,
    service: Service = DATAZONE,
    **filters: Any,
) -> Report:
    """Send every selected event of the kinds ``service`` takes that this target has not acknowledged; record
    outcomes in the ledger.

    An idempotent target (DataZone) gets windows of ``flush_every`` events: after a crash, the window's events are
    sent again with the same Client-Token and the target answers with the ids it already gave (no duplicate). A
    target without idempotency (the Glue lineage API, an HTTP backend) gets windows of one event: only the event
    whose answer was lost can be sent twice.
    """
    report = Report()
    started = time.perf_counter()
    book = ledger.Book(store, sender.target)
    size = flush_every if sender.idempotent else 1
    try:
        for window in _windows(_todo(store, book, mapping, report, progress, filters, service), size):
            marks = [_entry(sender.target, p, ledger.SENDING, attempts) for p, attempts in window if not p.problem]
            refused = [_entry(sender.target, p, ledger.FAILED, attempts, error=p.problem)
                       for p, attempts in window if p.problem]
            report.refused += [(e.event_id, e.error or "") for e in refused]
            book.begin(marks, refused)
            for p, attempts in window:
                if p.problem:
                    continue
                book.requesting(p.event_id)
                try:
                    remote = sender.send(p.body, p.token)
                except Refused as exc:
                    report.failed.append((p.event_id, str(exc)))
                    book.answered(_entry(sender.target, p, ledger.FAILED, attempts, error=str(exc)))
                    continue
                book.answered(_entry(sender.target, p, ledger.SENT, attempts, remote=remote or p.event_id))
                report.sent += 1
                if progress:
                    progress(1)
    finally:
        # also on Ctrl-C and on a lost connection: what was answered is recorded, what never left is withdrawn, and
        # the request without an answer stays in flight
        book.end()
        report.seconds = time.perf_counter() - started
    if wait_processed > 0:
        _poll(book, sender, wait_processed)
    return report


def _todo(store: Store, book: ledger.Book, mapping: Mapping_, report: Report,
          progress: Callable[[int], None] | None, filters: dict[str, Any],
          service: Service) -> Iterator[tuple[Prepared, int]]:
    """The selected events to send, prepared, with their attempt number; counts what is skipped."""
    for event_id, kind, raw in list(select_events(store, **filters)):
        if kind not in service.kinds:
            report.skipped_not_run_events += 1
            continue
        report.selected += 1
        report.kinds[kind] = report.kinds.get(kind, 0) + 1
        previous = book.known.get(event_id)
        if previous is not None and previous.status == ledger.SENT:
            report.already_sent += 1
            if progress:
                progress(1)
            continue
        report.resumed += previous is not None and previous.status == ledger.SENDING
        p = prepare(event_id, raw, mapping, service)
        report.trimmed += bool(p.dropped)
        yield p, (previous.attempts if previous else 0) + 1


def _windows(items: Iterator[tuple[Prepared, int]], size: int) -> Iterator[list[tuple[Prepared, int]]]:
    while window := list(itertools.islice(items, size)):
        yield window


def _entry(target: str, p: Prepared, status: ledger.Status, attempts: int, *, remote: str | None = None,
           error: str | None = None) -> ledger.Entry:
    return ledger.Entry(target, p.event_id, p.token, status, remote, None, error, attempts,
                        hashlib.sha256(p.body).hexdigest())


def _poll(book: ledger.Book, sender: ExactSink, timeout: float) -> None:
    """Ask for processing results until every sent event succeeded or failed, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [e for e in ledger.entries(book.store.reader(), book.target).values()
                   if e.status == ledger.SENT and e.remote_id and e.processing_status not in ("SUCCESS", "FAILED")]
        if not pending:
            return
        for e in pending:
            status = sender.processing_status(e.remote_id or "")
            if status:
                book.set_processing_status(e.event_id, status)
        time.sleep(0.5)
