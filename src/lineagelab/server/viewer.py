"""JSON endpoints for everything the CLI queries: the viewer's API (described in ``/openapi.json``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import duckdb
import orjson
from starlette.requests import Request
from starlette.responses import Response

from lineagelab.events.identity import parse_time
from lineagelab.graph import details, render
from lineagelab.graph import diff as gdiff
from lineagelab.graph.modes import Mode
from lineagelab.graph.resolve import AmbiguousNode, Node, NodeNotFound, NodeRef, resolve
from lineagelab.graph.traverse import column_lineage, impact, table_lineage, whole_graph
from lineagelab.graph.types import DIRECTIONS, Direction
from lineagelab.server.errors import ApiError
from lineagelab.store import queries
from lineagelab.store.queries import NodeKind
from lineagelab.store.store import Store

Con = duckdb.DuckDBPyConnection


def _json(data: Any) -> Response:
    return Response(render.to_json(data), media_type="application/json")


def _compact(data: Any) -> Response:
    """For the page's bundle: not for reading, often megabytes, so not indented like the other answers."""
    return Response(orjson.dumps(data), media_type="application/json")


def _param(request: Request, name: str, required: bool = False) -> str | None:
    value = request.query_params.get(name)
    if required and not value:
        raise ApiError(400, "BadRequest", f"query parameter {name!r} is required")
    return value


def _int(request: Request, name: str, default: int, lo: int = 0, hi: int = 1000) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "BadRequest", f"{name}: {raw!r} is not an integer") from None
    if not lo <= value <= hi:
        raise ApiError(400, "BadRequest", f"{name} must be between {lo} and {hi}")
    return value


def _bool(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").lower() in ("1", "true", "yes")


def _mode(request: Request) -> Mode:
    try:
        return Mode.parse(request.query_params.get("mode", "latest"), request.query_params.get("as_of") or None)
    except ValueError as exc:
        raise ApiError(400, "BadRequest", str(exc)) from None


def _ref(con: Con, text: str) -> NodeRef:
    try:
        return resolve(con, text)
    except AmbiguousNode as exc:
        raise ApiError(409, "AmbiguousNode", str(exc)) from None
    except NodeNotFound as exc:
        raise ApiError(404, "NotFound", str(exc)) from None


def _with_cursor(fn: Callable[[Con, Request], Any],
                 answer: Callable[[Any], Response] = _json) -> Callable[[Store, Request], Response]:
    def run(store: Store, request: Request) -> Response:
        return answer(fn(store.reader(), request))
    return run


def _direction(request: Request) -> Direction:
    asked = request.query_params.get("direction", "both")
    for direction in DIRECTIONS:
        if asked == direction:
            return direction
    raise ApiError(400, "BadRequest", "direction must be upstream, downstream or both")


def lineage(con: Con, request: Request) -> Any:
    text = str(_param(request, "node", True))
    direction = _direction(request)
    depth = _int(request, "depth", 20)
    mode = _mode(request)
    ref = _ref(con, text)
    if ref.column is not None:
        return render.lineage_to_dict(column_lineage(con, ref, mode, direction, depth))
    return render.lineage_to_dict(table_lineage(con, ref.node, mode, direction, depth, _bool(request, "columns")))


def impact_(con: Con, request: Request) -> Any:
    text, mode = str(_param(request, "node", True)), _mode(request)
    return render.impact_to_dict(impact(con, _ref(con, text), mode, upstream=_bool(request, "upstream")))


def graph(con: Con, request: Request) -> Any:
    return render.lineage_to_dict(whole_graph(con, _mode(request)))


def diff(con: Con, request: Request) -> Any:
    run1, run2 = _param(request, "run1"), _param(request, "run2")
    try:
        if run1 and run2:
            return gdiff.compare_runs(con, str(run1), str(run2))
        t1, t2 = _param(request, "from", True), _param(request, "to", True)
        return gdiff.compare_times(con, parse_time(str(t1)), parse_time(str(t2)))
    except gdiff.RunNotFound as exc:
        raise ApiError(404, "NotFound", str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, "BadRequest", f"not an ISO-8601 time: {exc}") from None


def search(con: Con, request: Request) -> Any:
    return [dataclasses.asdict(hit) for hit in
            details.search(con, str(_param(request, "q", True)), _int(request, "limit", 50, 1, 500))]


def node(con: Con, request: Request) -> Any:
    ref = _ref(con, str(_param(request, "node", True)))
    if ref.node.kind == "dataset":
        return details.as_dict(details.dataset_details(con, ref.node))
    return details.as_dict(details.job_details(con, ref.node))


def events(con: Con, request: Request) -> Any:
    return details.run_events(con, str(_param(request, "run", True)))


#: Runs a served bundle holds at most unless asked otherwise (``max_runs``; 0: all): see ``bundle.build``.
MAX_RUNS = 2000


def _focus(con: Con, request: Request) -> Node | None:
    """The bundle's focus: ``node`` as typed, or ``kind`` and ``id`` (what the viewer knows of a node it shows)."""
    text, kind, ident = _param(request, "node"), _param(request, "kind"), _param(request, "id")
    if text:
        return _ref(con, text).node
    if kind is None and ident is None:
        return None
    ident = ident or ""
    if (kind != "dataset" and kind != "job") or not (ident.isascii() and ident.isdigit() and int(ident) < 2**63):
        raise ApiError(400, "BadRequest", "kind must be dataset or job, and id a node id (a non-negative integer)")
    node_kind: NodeKind = "dataset" if kind == "dataset" else "job"
    named = queries.name_of(con, node_kind, int(ident))
    if named is None:
        raise ApiError(404, "NotFound", f"no {kind} with id {ident}")
    return Node(node_kind, int(ident), *named)


def bundle_(con: Con, request: Request) -> Any:
    """Runs, datasets and jobs for the browser (details and raw events are fetched per node)."""
    from lineagelab.graph.bundle import build

    return build(con, _focus(con, request), _int(request, "depth", 0, 0, 1000), with_details=False,
                 with_events=False, max_runs=_int(request, "max_runs", MAX_RUNS, 0, 100_000_000))


def stats(store: Store, request: Request) -> Response:
    return _json(store.stats())


ROUTES: dict[str, Callable[[Store, Request], Response]] = {
    "/api/v1/viewer/lineage": _with_cursor(lineage),
    "/api/v1/viewer/impact": _with_cursor(impact_),
    "/api/v1/viewer/graph": _with_cursor(graph),
    "/api/v1/viewer/diff": _with_cursor(diff),
    "/api/v1/viewer/search": _with_cursor(search),
    "/api/v1/viewer/node": _with_cursor(node),
    "/api/v1/viewer/events": _with_cursor(events),
    "/api/v1/viewer/bundle": _with_cursor(bundle_, _compact),
    "/api/v1/stats": stats,
}
