"""The OpenAPI document the server publishes at ``/openapi.json`` (collector and viewer API; the DataZone API is
described by AWS's own model, which botocore ships)."""

from __future__ import annotations

from functools import cache
from typing import Any

from lineagelab import __version__


def _q(name: str, description: str, required: bool = False, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


_MODE = [_q("mode", "latest (default) or cumulative", schema={"type": "string", "enum": ["latest", "cumulative"]}),
         _q("as_of", "ISO-8601 time: the graph as it was then", schema={"type": "string", "format": "date-time"})]
_ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_LIST = {"description": "OK",
         "content": {"application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}}


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any] = _JSON) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": ok, "400": _ERR, "404": _ERR, "409": _ERR}}}


@cache
def openapi_document() -> dict[str, Any]:
    node = _q("node", "dataset, job or DATASET::column (identity or unique part of a name)", True)
    event_body = {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "description": "an OpenLineage event"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "lineagelab local lineage server", "version": __version__},
        "paths": {
            "/api/v1/lineage": {"post": {
                "summary": "Receive one OpenLineage event (OpenLineage HTTP transport, Marquez-compatible)",
                "requestBody": event_body,
                "responses": {"201": _JSON, "400": _ERR, "413": _ERR, "415": _ERR}}},
            "/api/v1/lineage/batch": {"post": {
                "summary": "Receive a JSON array or NDJSON of events; per-event results",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}}},
                "responses": {"200": _JSON, "400": _ERR, "413": _ERR, "415": _ERR}}},
            "/api/v1/viewer/lineage": _get("Lineage of a node", [
                node, _q("direction", "upstream, downstream or both",
                         schema={"type": "string", "enum": ["upstream", "downstream", "both"]}),
                _q("depth", "edges to follow", schema={"type": "integer", "minimum": 0, "maximum": 1000}),
                _q("columns", "add column edges", schema={"type": "boolean"}), *_MODE]),
            "/api/v1/viewer/impact": _get("Everything depending on a node (or, upstream, it depends on)", [
                node, _q("upstream", "root cause instead of impact", schema={"type": "boolean"}), *_MODE], _LIST),
            "/api/v1/viewer/graph": _get("The whole graph of a mode", _MODE),
            "/api/v1/viewer/diff": _get("Differences between two times or two runs", [
                _q("from", "earlier time", schema={"type": "string", "format": "date-time"}),
                _q("to", "later time", schema={"type": "string", "format": "date-time"}),
                _q("run1", "first run id"), _q("run2", "second run id")]),
            "/api/v1/viewer/search": _get("Datasets and jobs whose identity contains q", [
                _q("q", "text", True), _q("limit", "at most", schema={"type": "integer", "minimum": 1,
                                                                       "maximum": 500})], _LIST),
            "/api/v1/viewer/node": _get("Details: schema, versions, runs, symlinks, facets", [node]),
            "/api/v1/viewer/events": _get("Raw events of a run", [_q("run", "run id", True)], _LIST),
            "/api/v1/viewer/bundle": _get("The viewer's data: datasets, jobs and every run with its inputs, outputs "
                                          "and column edges (near a node if given)", [
                _q("node", "focus: dataset or job (identity or unique part of a name)"),
                _q("depth", "with node: jobs within this many hops (0: all)",
                   schema={"type": "integer", "minimum": 0, "maximum": 1000}),
                _q("kind", "focus by id: dataset or job (with id)", schema={"type": "string",
                                                                            "enum": ["dataset", "job"]}),
                _q("id", "focus by id: the node's id (with kind)", schema={"type": "string", "pattern": "^[0-9]+$"}),
                _q("max_runs", "runs kept at most, nearest the focus first (0: all); a store over it without a "
                   "focus is centred on the dataset most jobs touch. An answer holding fewer runs than the store "
                   "says so under 'partial'",
                   schema={"type": "integer", "minimum": 0, "maximum": 100000000})]),
            "/api/v1/stats": _get("Store statistics", []),
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {
            "error": {"type": "string"}, "message": {"type": "string"}, "path": {"type": "string"}}}}},
    }
