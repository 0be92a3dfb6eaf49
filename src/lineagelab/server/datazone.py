"""The Amazon DataZone lineage API, answered locally (shapes from the botocore model).

Any ``dzd_…`` domain id works and comes into being on first use. PostLineageEvent takes the raw event bytes and is
idempotent per ``Client-Token`` (header, or the legacy ``clientToken`` query parameter): the same token and body give
the same id, the same token with another body is a ConflictException. Only RunEvents of at most 300,000 bytes are
accepted. A RunEvent that breaks the OpenLineage spec is accepted but FAILED in processing (as DataZone's
asynchronous processing would); a valid one is stored in the lineage store (so ``lineagelab lineage`` shows it) and
SUCCEEDS.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import duckdb
import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lineagelab.events import leniency
from lineagelab.events.identity import parse_time
from lineagelab.events.sinks.datazone import MAX_EVENT_BYTES
from lineagelab.events.validation import EventKind
from lineagelab.ingest.prepare import Pending, Rejection, accept
from lineagelab.ingest.reader import RawEvent
from lineagelab.server import dz_graph
from lineagelab.server import dz_records as dzstore
from lineagelab.server.errors import ApiError, not_found, validation
from lineagelab.server.event_body import BadEvent, read_event
from lineagelab.store.store import Store

DOMAIN = re.compile(r"^dzd[-_][a-zA-Z0-9_-]{1,36}$")
TOKEN = re.compile(r"^[\x21-\x7E]{1,128}$")
STATUSES = ("REQUESTED", "PROCESSING", "SUCCESS", "FAILED")
CREATED_BY = "lineagelab-local"


def _epoch(t: datetime | None) -> float | None:
    return t.timestamp() if t is not None else None


def _time_param(request: Request, name: str) -> datetime | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        pass
    try:
        return parse_time(value)
    except ValueError:
        raise validation(f"{name}: {value!r} is not a timestamp") from None


def _max_results(request: Request) -> int:
    raw = request.query_params.get("maxResults", "50")
    try:
        value = int(raw)
    except ValueError:
        raise validation(f"maxResults: {raw!r} is not an integer") from None
    if not 1 <= value <= 50:
        raise validation(f"maxResults must be between 1 and 50, got {value}")
    return value


def _offset(request: Request) -> int:
    token = request.query_params.get("nextToken")
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, UnicodeDecodeError):
        raise validation("nextToken is not a token this API issued") from None


def _next_token(offset: int, page: int, more: bool) -> str | None:
    return base64.urlsafe_b64encode(str(offset + page).encode()).decode() if more else None


def _choice(request: Request, name: str, allowed: tuple[str, ...], default: str | None = None) -> str | None:
    value = request.query_params.get(name, default)
    if value is not None and value not in allowed:
        raise validation(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


class DataZone:
    """Handlers for one lineage store (they run on worker threads)."""

    def __init__(self, store: Store, on_append: Callable[[], None], strict: bool | None = None):
        self.store = store
        self.strict = strict  # full validation (see ``leniency.strict``), else events are accepted with warnings
        self.on_append = on_append  # wakes the deriver
        self._graphs: dict[str, tuple[tuple[int, datetime | None], dz_graph.DzGraph]] = {}
        self._graph_lock = threading.Lock()
        self._tokens: set[tuple[str, str]] | None = None

    def _seen_tokens(self) -> set[tuple[str, str]]:
        """(domain, Client-Token) pairs ever stored: most posts carry a new token and need no lookup at all."""
        if self._tokens is None:
            self._tokens = dzstore.tokens(self.store.reader())
        return self._tokens

    # -- helpers ---------------------------------------------------------------------------------------------
    @staticmethod
    def domain(request: Request) -> str:
        domain = str(request.path_params["domain"])
        if not DOMAIN.match(domain):
            raise validation(f"domainIdentifier {domain!r} does not match dzd[-_][a-zA-Z0-9_-]{{1,36}}")
        return domain

    @staticmethod
    def identifier(request: Request, position: int) -> str:
        """Path segment ``position`` of the raw (still percent-encoded) path: identifiers may contain '/'."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        segments = raw.decode("latin-1").split("?", 1)[0].split("/")
        return unquote(segments[position])

    def graph(self, domain: str) -> dz_graph.DzGraph:
        cur = self.store.reader()
        key = dzstore.version(cur, domain)
        with self._graph_lock:
            cached = self._graphs.get(domain)
            if cached and cached[0] == key:
                return cached[1]
        g = dz_graph.build(domain, dzstore.graph_events(cur, domain))
        with self._graph_lock:
            self._graphs[domain] = (key, g)
        return g

    # -- events ----------------------------------------------------------------------------------------------
    def post_event(self, request: Request, body: bytes) -> Response:
        domain = self.domain(request)
        token = request.headers.get("Client-Token") or request.query_params.get("clientToken")
        if token is not None and not TOKEN.match(token):
            raise validation("clientToken must be 1-128 printable ASCII characters without spaces")
        if len(body) > MAX_EVENT_BYTES:
            raise validation(f"event is {len(body):,} bytes; the maximum is {MAX_EVENT_BYTES:,} bytes")
        if not body:
            raise validation("event is empty")
        try:
            doc, kind = read_event(body, "event", "RunEvent")
        except BadEvent as exc:
            raise validation(str(exc)) from None
        if kind is not EventKind.RUN and leniency.strict(self.strict):
            raise validation(f"only OpenLineage RunEvents are accepted, got a {kind.value}")
        sha = hashlib.sha256(body).hexdigest()
        seen = self._seen_tokens()
        if token is not None and (domain, token) in seen:
            existing = dzstore.by_token(self.store.reader(), domain, token)
            if existing is not None:
                return self._replay_token(existing, sha, domain)
        prepared = accept(RawEvent("datazone", "", body, doc), self.strict)
        status, error, event_id, event_time = "FAILED", None, None, None
        items: list[Pending] = []
        if isinstance(prepared, Rejection):
            error = f"{prepared.path}: {prepared.message}"
            try:
                event_time = parse_time(doc.get("eventTime", ""))
            except (ValueError, AttributeError):
                event_time = None
        else:
            items = [prepared]
            status, event_id, event_time = "SUCCESS", prepared.event_id, prepared.event_time
        record = dzstore.DzEvent(domain, secrets.token_hex(7), token, sha, event_id, event_time,
                                 datetime.now(UTC), CREATED_BY, status, error, body.decode("utf-8"), False)
        winner: list[dzstore.DzEvent] = []

        def write(con: duckdb.DuckDBPyConnection) -> None:
            # a concurrent request with the same token may have won the race (writes are serialised here)
            if token is not None and (domain, token) in seen:
                existing = dzstore.by_token(con, domain, token)
                if existing is not None:
                    winner.append(existing)
                    return
            dzstore.insert(con, record)
            if token is not None:
                seen.add((domain, token))  # a rollback leaves it here: then the lookup finds nothing, harmlessly

        # the event and its DataZone record commit together; the model is derived by the server's deriver
        self.store.append(items, also=write)
        self.on_append()
        if winner:
            return self._replay_token(winner[0], sha, domain)
        return JSONResponse({"domainId": domain, "id": record.id})

    @staticmethod
    def _replay_token(existing: dzstore.DzEvent, sha: str, domain: str) -> Response:
        if existing.body_sha256 != sha:
            raise ApiError(409, "ConflictException",
                           f"Client-Token {existing.client_token!r} was already used with a different event")
        return JSONResponse({"domainId": domain, "id": existing.id})

    def get_event(self, request: Request) -> Response:
        domain = self.domain(request)
        event_id = self.identifier(request, 6)
        e = dzstore.get(self.store.reader(), domain, event_id)
        if e is None:
            raise not_found(f"lineage event {event_id!r} not found in domain {domain}")
        headers = {"Domain-Id": domain, "Id": e.id, "Created-By": e.created_by or CREATED_BY,
                   "Processing-Status": e.processing_status, "Created-At": e.created_at.isoformat()}
        if e.event_time is not None:
            headers["Event-Time"] = e.event_time.isoformat()
        return Response(e.body.encode("utf-8"), headers=headers, media_type="application/json")

    def delete_event(self, request: Request) -> Response:
        domain = self.domain(request)
        event_id = self.identifier(request, 6)
        with self.store.writing() as con:
            e = dzstore.get(con, domain, event_id)
            if e is None or not dzstore.delete(con, domain, event_id):
                raise not_found(f"lineage event {event_id!r} not found in domain {domain}")
        return JSONResponse({"domainId": domain, "id": event_id, "processingStatus": e.processing_status})

    def list_events(self, request: Request) -> Response:
        domain = self.domain(request)
        limit, offset = _max_results(request), _offset(request)
        status = _choice(request, "processingStatus", STATUSES)
        order = _choice(request, "sortOrder", ("ASCENDING", "DESCENDING"), "DESCENDING")
        rows = dzstore.listing(self.store.reader(), domain, after=_time_param(request, "timestampAfter"),
                               before=_time_param(request, "timestampBefore"), status=status,
                               descending=order == "DESCENDING", offset=offset, limit=limit + 1)
        items = []
        for e in rows[:limit]:
            doc = orjson.loads(e.body)
            job = doc.get("job") if isinstance(doc.get("job"), dict) else {}
            summary = {
                "eventType": doc.get("eventType"),
                "runId": (doc.get("run") or {}).get("runId"),
                "job": {"namespace": job.get("namespace"), "name": job.get("name")},
                "inputs": [{"namespace": d["namespace"], "name": d["name"]}
                           for d in leniency.named_datasets(doc.get("inputs"))],
                "outputs": [{"namespace": d["namespace"], "name": d["name"]}
                            for d in leniency.named_datasets(doc.get("outputs"))],
            }
            items.append({"id": e.id, "domainId": domain, "processingStatus": e.processing_status,
                          "eventTime": _epoch(e.event_time), "createdBy": e.created_by,
                          "createdAt": _epoch(e.created_at),
                          "eventSummary": {"openLineageRunEventSummary": summary}})
        out: dict[str, Any] = {"items": items}
        token = _next_token(offset, limit, len(rows) > limit)
        if token:
            out["nextToken"] = token
        return JSONResponse(out)

    # -- nodes -----------------------------------------------------------------------------------------------
    def _node_summary(self, g: dz_graph.DzGraph, node: dz_graph.DzNode, at: datetime | None) -> dict[str, Any]:
        times = [t for t in node.times() if at is None or t <= at]
        return {"domainId": g.domain, "id": node.id, "name": node.name, "typeName": node.type_name,
                "typeRevision": "1", "sourceIdentifier": node.source_identifier,
                "eventTimestamp": _epoch(times[-1]) if times else None, "createdAt": _epoch(node.times()[0]),
                "updatedAt": _epoch(times[-1] if times else node.times()[-1]), "createdBy": CREATED_BY,
                "updatedBy": CREATED_BY}

    def _find(self, g: dz_graph.DzGraph, identifier: str) -> dz_graph.DzNode:
        node = g.find(identifier)
        if node is None:
            raise not_found(f"lineage node {identifier!r} not found in domain {g.domain}")
        return node

    def get_node(self, request: Request) -> Response:
        domain = self.domain(request)
        g = self.graph(domain)
        node = self._find(g, self.identifier(request, 6))
        at = _time_param(request, "timestamp")
        if at is not None and node.times()[0] > at:
            raise not_found(f"lineage node {node.id!r} did not exist at {at.isoformat()}")
        out = self._node_summary(g, node, at)
        out["formsOutput"] = node.forms_output(at)
        out["upstreamNodes"] = [{"id": i, "eventTimestamp": _epoch(t)} for i, t in g.upstream(node.id, at)][:100]
        out["downstreamNodes"] = [{"id": i, "eventTimestamp": _epoch(t)} for i, t in g.downstream(node.id, at)][:100]
        return JSONResponse(out)

    def node_history(self, request: Request) -> Response:
        domain = self.domain(request)
        g = self.graph(domain)
        node = self._find(g, self.identifier(request, 6))
        direction = _choice(request, "direction", ("UPSTREAM", "DOWNSTREAM"))
        order = _choice(request, "sortOrder", ("ASCENDING", "DESCENDING"), "DESCENDING")
        gte, lte = _time_param(request, "timestampGTE"), _time_param(request, "timestampLTE")
        limit, offset = _max_results(request), _offset(request)
        times = []
        for t, (ups, downs) in node.versions.items():
            if (gte and t < gte) or (lte and t > lte):
                continue
            if (direction == "UPSTREAM" and not ups) or (direction == "DOWNSTREAM" and not downs):
                continue
            times.append(t)
        times.sort(reverse=order == "DESCENDING")
        page = times[offset : offset + limit]
        out: dict[str, Any] = {"nodes": [self._node_summary(g, node, t) for t in page]}
        token = _next_token(offset, limit, len(times) > offset + limit)
        if token:
            out["nextToken"] = token
        return JSONResponse(out)

    def query_graph(self, request: Request, body: bytes) -> Response:
        domain = self.domain(request)
        try:
            doc = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise validation(f"request body is not valid JSON: {exc}") from None
        match = doc.get("match") if isinstance(doc, dict) else None
        if not isinstance(match, list) or len(match) != 2:
            raise validation("match must have exactly two clauses: an entityPattern and a relationPattern")
        entity = next((c.get("entityPattern") for c in match if isinstance(c, dict) and "entityPattern" in c), None)
        relation = next((c.get("relationPattern") for c in match if isinstance(c, dict) and "relationPattern" in c),
                        None)
        if not isinstance(entity, dict) or entity.get("entityType") != "LINEAGE_NODE" or not entity.get("identifier"):
            raise validation("entityPattern needs entityType LINEAGE_NODE and an identifier")
        if not isinstance(relation, dict) or relation.get("relationType") != "LINEAGE":
            raise validation("relationPattern needs relationType LINEAGE")
        direction = relation.get("relationDirection", "OUT")
        if direction not in ("IN", "OUT"):
            raise validation("relationDirection must be IN or OUT")
        length = relation.get("maxPathLength", 1)
        if not isinstance(length, int) or not 1 <= length <= 5:
            raise validation("maxPathLength must be an integer from 1 to 5")
        limit, offset = _max_results(request), _offset(request)
        g = self.graph(domain)
        start = self._find(g, str(entity["identifier"]))
        ids = dz_graph.reachable(g, start.id, downstream=direction == "OUT", max_length=length)
        page = ids[offset : offset + limit]
        items = []
        for nid in page:
            node = g.nodes[nid]
            item = self._node_summary(g, node, None)
            item["upstreamLineageNodeIds"] = [i for i, _ in g.upstream(nid)]
            item["downstreamLineageNodeIds"] = [i for i, _ in g.downstream(nid)]
            item["formsOutput"] = node.forms_output()
            items.append({"lineageNode": item})
        out: dict[str, Any] = {"items": items}
        token = _next_token(offset, limit, len(ids) > offset + limit)
        if token:
            out["nextToken"] = token
        return JSONResponse(out)
