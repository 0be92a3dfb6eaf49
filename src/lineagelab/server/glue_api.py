"""The Glue Data Catalog lineage API, answered locally on AWS's JSON 1.1 protocol (shapes from the botocore model).

``POST /`` with ``X-Amz-Target: AWSGlue.PostLineageEvent`` or ``AWSGlue.GetLineageNode``, so
``boto3.client("glue", endpoint_url=…)`` works. PostLineageEvent takes a RunEvent or DatasetEvent of at most
300,000 characters and stores it through the server's commit queue, as the collector does: it answers once the event
is durable, the model is derived after (AWS too processes asynchronously), and an identical event is stored once
(its content is its id). The local catalog is the whole store: GetLineageNode sees every stored RunEvent and
DatasetEvent, however it arrived. Node ids and source identifiers follow the DataZone API's rules (``dz_graph``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from starlette.responses import Response

from lineagelab.events import leniency, naming
from lineagelab.events.identity import parse_time
from lineagelab.events.validation import EventKind
from lineagelab.ingest.prepare import Rejection, accept
from lineagelab.ingest.reader import RawEvent
from lineagelab.server import dz_graph
from lineagelab.server.commits import CommitQueue
from lineagelab.server.errors import ApiError
from lineagelab.server.event_body import BadEvent, read_event
from lineagelab.store import queries_glue
from lineagelab.store.store import Store

TARGET_PREFIX = "AWSGlue."
CONTENT_TYPE = "application/x-amz-json-1.1"
MAX_EVENT_CHARS = 300_000
MAX_IDENTIFIER = 2150
MAX_NEIGHBOURS = 250
#: A request body holding a 300,000-character event, every character escaped, stays below this.
MAX_BODY = 2 * 1024 * 1024
#: The graph's "domain" for node ids: one local catalog.
CATALOG = "glue-local"
#: The model's error names for what the handlers and the server raise.
ERROR_NAMES = {400: "InvalidInputException", 404: "EntityNotFoundException", 413: "InvalidInputException",
               500: "InternalServiceException"}
TAKES = {EventKind.RUN, EventKind.DATASET}


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidInputException", message)


def error_response(err: ApiError) -> Response:
    """An error as the JSON 1.1 protocol sends it: botocore reads the class name from ``__type``."""
    code = err.code if err.code.endswith("Exception") else ERROR_NAMES.get(err.status, "InvalidInputException")
    status = 500 if err.status >= 500 else 400  # Glue answers every client error with 400
    return Response(orjson.dumps({"__type": code, "Message": err.message}), status_code=status,
                    media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": "lineagelab-local"})


def _ok(doc: dict[str, Any]) -> Response:
    return Response(orjson.dumps(doc), media_type=CONTENT_TYPE, headers={"x-amzn-RequestId": "lineagelab-local"})


@dataclass
class GlueGraph:
    """The catalog's lineage graph, folded from stored events in stored order (``seq``), with each node's latest
    facets (its forms)."""

    g: dz_graph.DzGraph = field(default_factory=lambda: dz_graph.DzGraph(CATALOG))
    seq: int = 0
    facets: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)

    def _seen(self, node: dz_graph.DzNode, event_id: str, t: datetime, facets: Any) -> None:
        node.versions.setdefault(t, (set(), set()))
        node.event_ids.add(event_id)
        if isinstance(facets, dict) and facets and (node.id not in self.facets or self.facets[node.id][0] <= t):
            self.facets[node.id] = (t, facets)

    def add(self, event_id: str, kind: str, doc: dict[str, Any]) -> None:
        t = parse_time(doc["eventTime"])
        if kind == "DatasetEvent":
            ds = doc["dataset"]
            sid = naming.dataset_source_identifier(ds["namespace"], ds["name"], leniency.facets(ds))
            self._seen(self.g.node(sid, dz_graph.DATASET, ds["name"]), event_id, t, leniency.facets(ds))
            return
        if kind != "RunEvent":  # a job event (stored another way): no run to show
            return
        job, run = doc["job"], doc["run"]
        run_facets = leniency.facets(run)
        glue = naming.has_glue_environment(run_facets)
        job_node = self.g.node(naming.job_source_identifier(job["namespace"], job["name"]), dz_graph.JOB,
                               job["name"])
        run_node = self.g.node(naming.job_run_source_identifier(job["namespace"], job["name"], run["runId"]),
                               dz_graph.JOB_RUN, f"{job['name']}/{run['runId']}")
        self._seen(job_node, event_id, t, leniency.facets(job))
        self._seen(run_node, event_id, t, run_facets)
        self.g.add_edge(job_node, run_node, t)
        for side in ("inputs", "outputs"):
            for ds in leniency.named_datasets(doc.get(side)):
                facets = leniency.facets(ds)
                sid = naming.dataset_source_identifier(ds["namespace"], ds["name"], facets, glue_run=glue)
                ds_node = self.g.node(sid, dz_graph.DATASET, ds["name"])
                self._seen(ds_node, event_id, t, facets)
                if side == "inputs":
                    self.g.add_edge(ds_node, run_node, t)
                else:
                    self.g.add_edge(run_node, ds_node, t)


class GlueLineage:
    """Handlers for one store (they run on worker threads)."""

    def __init__(self, store: Store, commits: CommitQueue, strict: bool | None = None):
        self.store, self.commits = store, commits
        self.strict = strict  # full validation (see ``leniency.strict``), else events are accepted with warnings
        self._graph = GlueGraph()
        self._lock = threading.Lock()
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "PostLineageEvent": self.post_lineage_event,
            "GetLineageNode": self.get_lineage_node,
        }

    def handle(self, target: str | None, body: bytes) -> Response:
        """One JSON 1.1 request: the operation its ``X-Amz-Target`` names, on its JSON body."""
        if not target or not target.startswith(TARGET_PREFIX):
            raise ApiError(400, "UnknownOperationException", f"X-Amz-Target {target!r} is not an AWSGlue operation")
        operation = self._operations.get(target[len(TARGET_PREFIX):])
        if operation is None:
            raise ApiError(400, "UnknownOperationException",
                           f"{target} is not answered here (only AWSGlue.{', AWSGlue.'.join(self._operations)})")
        try:
            request = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "SerializationException", f"request body is not valid JSON: {exc}") from None
        if not isinstance(request, dict):
            raise ApiError(400, "SerializationException", "request body is not a JSON object")
        return _ok(operation(request))

    # -- PostLineageEvent --------------------------------------------------------------------------------------
    def post_lineage_event(self, request: dict[str, Any]) -> dict[str, Any]:
        text = request.get("Event")
        if not isinstance(text, str):
            raise invalid("Event is required: an OpenLineage RunEvent or DatasetEvent as a JSON string")
        if len(text) > MAX_EVENT_CHARS:
            raise invalid(f"Event is {len(text):,} characters; the maximum is {MAX_EVENT_CHARS:,}")
        try:
            doc, kind = read_event(text, "Event", "event")
        except BadEvent as exc:
            raise invalid(str(exc)) from None
        if kind not in TAKES:
            raise invalid(f"Event must be an OpenLineage RunEvent or DatasetEvent, got a {kind.value}")
        prepared = accept(RawEvent("glue", "", text.encode("utf-8"), doc), self.strict)
        if isinstance(prepared, Rejection):
            raise invalid(f"Event at {prepared.path or '$'}: {prepared.message}")
        self.commits.submit([prepared])  # durable before the answer; an identical event is stored once
        return {}

    # -- GetLineageNode ----------------------------------------------------------------------------------------
    def graph(self) -> GlueGraph:
        """The graph with every stored event folded in (read your writes: the commit queue is synced first)."""
        self.commits.sync()
        cur = self.store.reader()
        with self._lock:
            gg = self._graph
            while rows := queries_glue.events_after(cur, gg.seq):
                for seq, event_id, kind, raw in rows:
                    gg.add(event_id, kind, orjson.loads(raw))
                    gg.seq = seq
            return gg

    def get_lineage_node(self, request: dict[str, Any]) -> dict[str, Any]:
        identifier = request.get("Identifier")
        if not isinstance(identifier, str) or not identifier:
            raise invalid("Identifier is required: a lineage node id or a source identifier")
        if len(identifier) > MAX_IDENTIFIER:
            raise invalid(f"Identifier is {len(identifier):,} characters; the maximum is {MAX_IDENTIFIER:,}")
        gg = self.graph()
        with self._lock:
            node = gg.g.find(identifier)
            if node is None:
                raise ApiError(400, "EntityNotFoundException", f"lineage node {identifier!r} not found")
            times = node.times()
            out: dict[str, Any] = {
                "Id": node.id, "TypeName": node.type_name, "SourceIdentifier": node.source_identifier,
                "Name": node.name[:256],
                "UpstreamNodes": [{"Id": i} for i, _ in gg.g.upstream(node.id)][:MAX_NEIGHBOURS],
                "DownstreamNodes": [{"Id": i} for i, _ in gg.g.downstream(node.id)][:MAX_NEIGHBOURS],
                "FormsOutput": [{"TypeName": name, "Content": orjson.dumps(value).decode()}
                                for name, value in sorted(gg.facets.get(node.id, (times[-1], {}))[1].items())],
            }
            if times:
                out["EventTimestamp"] = times[-1].timestamp()
        return out
