"""The OpenLineage HTTP collector (Marquez-compatible ``POST /api/v1/lineage``) and a batch endpoint.

Handlers take the commit queue they write through, not the server's state, so this module needs nothing of ``app``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lineagelab.ingest.prepare import Pending, Rejection, accept
from lineagelab.ingest.reader import RawEvent, parse_bytes
from lineagelab.server.commits import CommitQueue
from lineagelab.server.errors import ApiError

JSON_TYPES = ("", "application/json", "application/x-ndjson", "application/jsonl", "application/x-jsonlines",
              "text/plain")


def _check_type(request: Request) -> None:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in JSON_TYPES and not ctype.endswith("+json"):
        raise ApiError(415, "UnsupportedMediaType", f"Content-Type {ctype!r} is not JSON")


def post_one(commits: CommitQueue, request: Request, body: bytes, strict: bool | None = None) -> Response:
    """One event -> 201 once it is committed; 400 with the same message ``lineagelab ingest`` gives. An event that
    breaks the spec but can be understood is stored, its warnings in the answer (unless ``strict``)."""
    _check_type(request)
    raws = list(parse_bytes(body, "request"))
    if len(raws) != 1:
        raise ApiError(400, "InvalidEvent", f"expected one event, got {len(raws)}: use /api/v1/lineage/batch")
    raw = raws[0]
    if raw.location == "index 0":
        raise ApiError(400, "InvalidEvent", "expected one event object, got a JSON array: use /api/v1/lineage/batch")
    prepared = accept(RawEvent("request", "", raw.text, raw.doc, raw.error), strict)
    if isinstance(prepared, Rejection):
        return JSONResponse({"error": "InvalidEvent", "path": prepared.path or "$", "message": prepared.message},
                            status_code=400)
    new = commits.submit([prepared])
    answer: dict[str, Any] = {"id": prepared.event_id, "duplicate": prepared.event_id not in new}
    if prepared.warnings:
        answer["warnings"] = _warnings(prepared)
    return JSONResponse(answer, status_code=201)


def _warnings(prepared: Pending) -> list[dict[str, str]]:
    return [{"path": w.path, "message": w.message} for w in prepared.warnings]


def post_batch(commits: CommitQueue, request: Request, body: bytes, strict: bool | None = None) -> Response:
    """A JSON array or NDJSON: each event accepted or rejected on its own; valid ones are committed together."""
    _check_type(request)
    results: list[dict[str, Any]] = []
    items: list[Pending] = []
    for index, raw in enumerate(parse_bytes(body, "request")):
        if raw.location == "" and raw.error:
            raise ApiError(400, "InvalidBatch", raw.error)
        prepared = accept(raw, strict)
        if isinstance(prepared, Rejection):
            results.append({"index": index, "status": "rejected", "path": prepared.path or "$",
                            "message": prepared.message})
        else:
            items.append(prepared)
            results.append({"index": index, "status": "accepted", "id": prepared.event_id,
                            **({"warnings": _warnings(prepared)} if prepared.warnings else {})})
    new = commits.submit(items)
    seen: set[str] = set()
    for r in results:
        if r["status"] == "accepted":
            if r["id"] not in new or r["id"] in seen:
                r["status"] = "duplicate"
            seen.add(r["id"])
    summary = {s: sum(1 for r in results if r["status"] == s) for s in ("accepted", "duplicate", "rejected")}
    return JSONResponse({**summary, "results": results}, status_code=200)
