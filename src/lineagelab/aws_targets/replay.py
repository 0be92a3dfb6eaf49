"""Replay stored RunEvents to a DataZone domain (or any OpenLineage HTTP backend), exactly once.

Exactly once comes from three things together:

* a deterministic Client-Token per *mapped* event (a hash of the bytes sent), so a resend is recognised by DataZone;
* the ledger row is committed as ``sending`` before the request leaves and as ``sent`` (with DataZone's id) after the
  answer: a crash in between resends with the same token, which DataZone answers with the same id;
* botocore's standard retry mode retries throttling, 5xx and dropped connections with the same token, with
  exponential backoff and jitter. A 4xx is recorded with AWS's message and the replay goes on.

Events over DataZone's 300,000-byte limit lose optional heavy facets, heaviest first (``HEAVY_FACETS``), until they
fit; an event that still does not fit is refused with a message, never truncated.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from lineagelab.aws_targets import ledger
from lineagelab.aws_targets.mapping import Mapping_
from lineagelab.events import naming
from lineagelab.events.validation import InvalidEvent, validate_event
from lineagelab.store.store import Store

MAX_BYTES = 300_000
#: Dropped in this order from an event over the limit (run facets, then dataset facets); lineage itself stays.
HEAVY_FACETS = ("spark.logicalPlan", "spark_unknown", "spark_properties", "debug", "gcp_dataproc_spark",
                "environment-properties:other", "schema:inputs", "columnLineage:dataset", "columnLineage")


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
    skipped_not_run_events: int = 0
    already_sent: int = 0
    sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    trimmed: int = 0
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
    for side in ("inputs", "outputs"):
        for ds in doc.get(side) or []:
            removed |= (ds.get("facets") or {}).pop(facet, None) is not None
    return removed


def prepare(event_id: str, raw: str, mapping: Mapping_) -> Prepared:
    doc = mapping.event(orjson.loads(raw))
    body = orjson.dumps(doc)
    dropped: list[str] = []
    for facet in HEAVY_FACETS:
        if len(body) <= MAX_BYTES:
            break
        if _drop(doc, facet):
            dropped.append(facet)
            body = orjson.dumps(doc)
    p = Prepared(event_id, body, client_token(body), doc, dropped)
    if len(body) > MAX_BYTES:
        p.problem = (f"{len(body):,} bytes after dropping {', '.join(dropped) or 'no'} optional facets; "
                     f"DataZone accepts at most {MAX_BYTES:,}")
        return p
    try:
        validate_event(doc)
    except InvalidEvent as exc:
        p.problem = f"invalid after mapping: {exc}"
    return p


def source_identifiers(doc: dict[str, Any]) -> dict[str, list[str]]:
    """The DataZone node identities an event's datasets and job will get."""
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


class Sender:
    """One destination: DataZone (boto3) or an OpenLineage HTTP endpoint."""

    target: str

    def send(self, p: Prepared) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def status(self, remote_id: str) -> str | None:
        return None


class PermanentError(Exception):
    """The destination refused the event and would refuse it again (a 4xx)."""


def _no_delay(client: Any) -> None:
    """botocore gives urllib3 an empty socket-option list, which drops urllib3's TCP_NODELAY; it then sends headers
    and body in two segments that wait on the server's delayed ACK (measured: 33 ms a call against a local
    endpoint instead of 5). Put TCP_NODELAY back. Private botocore API: if it changes, nothing breaks, it is slower.
    """
    import socket

    try:
        from urllib3 import PoolManager

        session = client._endpoint.http_session
        session._socket_options.append((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
        session._manager = PoolManager(**session._get_pool_manager_kwargs())
    except Exception:  # pragma: no cover - depends on botocore internals
        pass


class DataZoneSender(Sender):
    def __init__(self, domain: str, region: str | None, endpoint_url: str | None, max_attempts: int = 8,
                 timeout: float = 10.0):
        import boto3
        from botocore.config import Config

        self.domain = domain
        self.client = boto3.client(
            "datazone", region_name=region, endpoint_url=endpoint_url,
            config=Config(retries={"mode": "standard", "max_attempts": max_attempts}, connect_timeout=timeout,
                          read_timeout=timeout, tcp_keepalive=True),
        )
        where = endpoint_url or f"datazone.{self.client.meta.region_name}"
        self.target = f"datazone:{domain}@{where}"
        _no_delay(self.client)

    def send(self, p: Prepared) -> str:
        from botocore.exceptions import ClientError

        try:
            r = self.client.post_lineage_event(domainIdentifier=self.domain, event=p.body, clientToken=p.token)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            code = exc.response.get("Error", {}).get("Code", "")
            if 400 <= status < 500 and status != 429:
                raise PermanentError(f"{code}: {message}") from None
            raise
        return str(r["id"])

    def status(self, remote_id: str) -> str | None:
        r = self.client.get_lineage_event(domainIdentifier=self.domain, identifier=remote_id)
        return str(r.get("processingStatus"))


class HttpSender(Sender):
    """Any OpenLineage HTTP backend (Marquez, this project's server): POST {url}/api/v1/lineage."""

    def __init__(self, url: str, token: str | None = None, max_attempts: int = 8, timeout: float = 10.0):
        self.url, self.token, self.max_attempts, self.timeout = url.rstrip("/"), token, max_attempts, timeout
        self.target = f"http:{self.url}"

    def send(self, p: Prepared) -> str:
        import random
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        delay = 0.2
        for attempt in range(1, self.max_attempts + 1):
            req = urllib.request.Request(f"{self.url}/api/v1/lineage", data=p.body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    resp.read()
                    return p.event_id
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code != 429:
                    raise PermanentError(f"HTTP {exc.code}: {exc.read().decode(errors='replace')[:300]}") from None
                if attempt == self.max_attempts:
                    raise
            except OSError:
                if attempt == self.max_attempts:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)
        raise RuntimeError("unreachable")


def replay(
    store: Store,
    sender: Sender,
    mapping: Mapping_,
    *,
    wait_processed: float = 0.0,
    progress: Callable[[int], None] | None = None,
    flush_every: int = 50,
    **filters: Any,
) -> Report:
    """Send every selected RunEvent this target has not acknowledged; record outcomes in the ledger.

    Acknowledgements are written in small batches: after a crash, the few acknowledged-but-unrecorded events are sent
    again with the same Client-Token and DataZone answers with the ids it already gave (no duplicate). A target
    without such idempotency (``HttpSender``) records every acknowledgement at once.
    """
    report = Report()
    started = time.perf_counter()
    done = ledger.entries(store.reader(), sender.target)
    pending: list[ledger.Entry] = []
    every = flush_every if isinstance(sender, DataZoneSender) else 1

    def flush() -> None:
        if pending:
            with store.writing() as con:
                ledger.record_many(con, pending)
            pending.clear()

    try:
        for event_id, kind, raw in list(select_events(store, **filters)):
            if kind != "RunEvent":
                report.skipped_not_run_events += 1
                continue
            report.selected += 1
            previous = done.get(event_id)
            if previous is not None and previous.status == "sent":
                report.already_sent += 1
                if progress:
                    progress(1)
                continue
            p = prepare(event_id, raw, mapping)
            report.trimmed += bool(p.dropped)
            attempts = (previous.attempts if previous else 0) + 1
            sha = hashlib.sha256(p.body).hexdigest()
            if p.problem:
                report.refused.append((event_id, p.problem))
                pending.append(ledger.Entry(sender.target, event_id, p.token, "failed", None, None, p.problem,
                                            attempts, sha))
                flush()
                continue
            try:
                remote = sender.send(p)
            except PermanentError as exc:
                report.failed.append((event_id, str(exc)))
                pending.append(ledger.Entry(sender.target, event_id, p.token, "failed", None, None, str(exc),
                                            attempts, sha))
                flush()
                continue
            pending.append(ledger.Entry(sender.target, event_id, p.token, "sent", remote, None, None, attempts, sha))
            report.sent += 1
            if len(pending) >= every:
                flush()
            if progress:
                progress(1)
    finally:
        flush()  # also on Ctrl-C and on a lost connection: what was acknowledged is recorded
        report.seconds = time.perf_counter() - started
    if wait_processed > 0:
        _poll(store, sender, wait_processed)
    return report


def _poll(store: Store, sender: Sender, timeout: float) -> None:
    """Ask for processing results until every sent event succeeded or failed, or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = [e for e in ledger.entries(store.reader(), sender.target).values()
                   if e.status == "sent" and e.remote_id and e.processing_status not in ("SUCCESS", "FAILED")]
        if not pending:
            return
        for e in pending:
            status = sender.status(e.remote_id or "")
            if status:
                with store.writing() as con:
                    con.execute("UPDATE replay_ledger SET processing_status = ? WHERE target = ? AND event_id = ?",
                                [status, e.target, e.event_id])
        time.sleep(0.5)
