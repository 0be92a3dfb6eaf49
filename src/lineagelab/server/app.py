"""``lineagelab serve``: one local HTTP server for the OpenLineage collector, the DataZone and Glue lineage APIs and the
viewer.

The server is the one process holding the store (see ``store.store``): writes go through a group-commit queue and are
acknowledged after they are committed; reads use their own cursors and see committed snapshots.
"""

from __future__ import annotations

import gc
import gzip
import hmac
import json
import os
import secrets
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from lineagelab.server import collector, glue_api, viewer
from lineagelab.server.client import INSTANCE_PATH, server_file
from lineagelab.server.commits import CommitQueue
from lineagelab.server.datazone import DataZone
from lineagelab.server.errors import ApiError, aws_response, json_response
from lineagelab.server.openapi import openapi_document
from lineagelab.store.store import Store

MAX_BODY = 64 * 1024 * 1024  # a batch; single events are limited by the reader's MAX_EVENT_BYTES
DZ_MAX_BODY = 1024 * 1024


class State:
    """What the handlers share. ``strict``: events get the full validation (``leniency.strict``: None, the
    environment's choice), else one that breaks the spec but can be understood is stored with warnings."""

    def __init__(self, store: Store, strict: bool | None = None):
        self.store = store
        self.strict = strict
        self.commits = CommitQueue(store)
        self.datazone = DataZone(store, self.commits.appended, strict)
        self.glue = glue_api.GlueLineage(store, self.commits, strict)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, gunzipped if the client said so, refused past ``limit`` bytes (before or after inflating)."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise ApiError(413, "PayloadTooLarge", f"request body of {int(length):,} bytes exceeds {limit:,} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, "PayloadTooLarge", f"request body exceeds {limit:,} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("gzip", "x-gzip"):
        try:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, limit + 1)
            if len(body) > limit or inflater.unconsumed_tail:
                raise ApiError(413, "PayloadTooLarge", f"inflated request body exceeds {limit:,} bytes")
        except (zlib.error, gzip.BadGzipFile, EOFError) as exc:
            raise ApiError(400, "BadRequest", f"request body is not valid gzip: {exc}") from None
    elif encoding not in ("", "identity"):
        raise ApiError(415, "UnsupportedMediaType", f"unsupported Content-Encoding {encoding!r}")
    return body


def _is_aws(path: str) -> bool:
    return path.startswith("/v2/")


def _is_glue(scope: Scope) -> bool:
    """The Glue lineage API: AWS's JSON protocol, ``POST /``."""
    return scope["path"] == "/" and scope.get("method") == "POST"


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(fn: Callable[..., Any], body_limit: int | None = None) -> Handler:
    """Run a blocking handler on a worker thread; map errors to the right wire format (AWS or JSON)."""

    async def run(request: Request) -> Response:
        try:
            if body_limit is not None:
                body = await read_body(request, body_limit)
                result: Response = await run_in_threadpool(fn, request, body)
            else:
                result = await run_in_threadpool(fn, request)
            return result
        except ApiError as err:
            return aws_response(err) if _is_aws(request.url.path) else json_response(err)

    return run


class TokenAuth:
    """``--token``: every request needs ``Authorization: Bearer TOKEN`` (what the OpenLineage HTTP transport's
    ``api_key`` sends), or an AWS SigV4 signature whose access key id is TOKEN (what boto3 sends)."""

    def __init__(self, app: ASGIApp, token: str | None):
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or scope["path"].startswith("/ui") or (
                scope["path"] in ("/", INSTANCE_PATH) and scope.get("method") == "GET"):
            # the viewer's page and assets hold no data; it sends the token (from ?token=) on its API calls. The
            # instance id is no secret: a client asks for it before trusting a port with its token.
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        ok = False
        if auth.startswith("Bearer "):
            ok = hmac.compare_digest(auth[7:].strip(), self.token)
        elif auth.startswith("AWS4-HMAC-SHA256") and "Credential=" in auth:
            key = auth.split("Credential=", 1)[1].split("/", 1)[0]
            ok = hmac.compare_digest(key, self.token)
        if ok:
            await self.app(scope, receive, send)
            return
        err = ApiError(401, "UnauthorizedException", "missing or wrong credentials: send Authorization: Bearer TOKEN")
        if _is_glue(scope):
            response = glue_api.error_response(ApiError(400, "AccessDeniedException", err.message))
        else:
            response = aws_response(err) if _is_aws(scope["path"]) else json_response(err)
        await response(scope, receive, send)


def _synced(state: State, fn: Callable[[Store, Request], Response], request: Request) -> Response:
    state.commits.sync()  # read your writes: the model includes every acknowledged event
    return fn(state.store, request)


#: Runs one CLI query in the server (``cli/remote.py``): the store and the request's JSON, answering JSON. The CLI
#: passes it in, as the server may not import the CLI.
Commands = Callable[[Store, dict[str, Any]], dict[str, Any]]


def create_app(store_path: str | os.PathLike[str] | None = None, token: str | None = None,
               store: Store | None = None, strict: bool | None = None, commands: Commands | None = None,
               instance: str | None = None, announced: Path | None = None) -> Starlette:
    """The server's app; ``instance`` is the id its server file (``announced``, removed as it stops) gives clients
    to tell it from another process."""
    state: dict[str, State] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = store is None
        s = store if store is not None else Store.open(store_path)
        # The server runs many tiny transactions, where DuckDB's parallelism costs more than it gives;
        # LINEAGELAB_DUCKDB_THREADS sets another number, e.g. for a server mostly answering large queries.
        s.con.execute(f"SET threads = {int(os.environ.get('LINEAGELAB_DUCKDB_THREADS', '1'))}")
        state["s"] = State(s, strict)
        try:
            yield
        finally:
            if announced is not None:  # here, not after uvicorn.run: uvicorn ends the process with the signal it got
                announced.unlink(missing_ok=True)
            state["s"].commits.close()
            if owned:
                s.close()

    def st() -> State:
        return state["s"]

    def dz(method: str) -> Callable[..., Any]:
        return lambda *a: getattr(st().datazone, method)(*a)

    def nodes(request: Request) -> Response:
        raw = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1").split("?")[0]
        segments = raw.rstrip("/").split("/")
        if len(segments) == 8 and segments[7] == "history":
            return st().datazone.node_history(request)
        if len(segments) == 7:
            return st().datazone.get_node(request)
        raise ApiError(404, "ResourceNotFoundException", f"no such resource: {request.url.path}")

    async def glue(request: Request) -> Response:
        try:
            body = await read_body(request, glue_api.MAX_BODY)
            result: Response = await run_in_threadpool(st().glue.handle, request.headers.get("x-amz-target"), body)
            return result
        except ApiError as err:
            return glue_api.error_response(err)
        except Exception as exc:  # the model's fault class, so botocore retries it as a 5xx
            return glue_api.error_response(ApiError(500, "InternalServiceException", f"{type(exc).__name__}: {exc}"))

    def cli(request: Request, body: bytes) -> Response:
        if commands is None:
            raise ApiError(404, "NotFound", "this server does not run CLI queries")
        try:
            asked = json.loads(body)
        except ValueError as exc:
            raise ApiError(400, "BadRequest", f"request body is not JSON: {exc}") from None
        st().commits.sync()  # read your writes, as the viewer API does
        return JSONResponse(commands(st().store, asked))

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document())

    async def whoami(request: Request) -> Response:
        return JSONResponse({"instance": instance})

    async def not_found(request: Request, exc: Exception) -> Response:
        err = ApiError(404, "UnknownOperationException" if _is_aws(request.url.path) else "NotFound",
                       f"no such endpoint: {request.method} {request.url.path}")
        return aws_response(err) if _is_aws(request.url.path) else json_response(err)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        err = ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on {request.url.path}")
        return aws_response(err) if _is_aws(request.url.path) else json_response(err)

    async def server_error(request: Request, exc: Exception) -> Response:
        err = ApiError(500, "InternalServerException", f"{type(exc).__name__}: {exc}")
        return aws_response(err) if _is_aws(request.url.path) else json_response(err)

    async def ui_asset(request: Request) -> Response:
        from lineagelab.server import static_ui

        name = request.path_params.get("name") or "index.html"
        try:
            body = static_ui.asset(name)
        except static_ui.ViewerNotBuilt as exc:
            return Response(str(exc), status_code=503, media_type="text/plain")
        except FileNotFoundError:
            raise ApiError(404, "NotFound", f"no such file: {request.url.path}") from None
        kind = {"html": "text/html; charset=utf-8", "js": "text/javascript", "css": "text/css"}[name.rsplit(".", 1)[1]]
        return Response(body, media_type=kind, headers={"Cache-Control": "no-cache"})

    async def to_ui(request: Request) -> Response:
        return RedirectResponse("/ui/")

    routes = [
        Route("/", to_ui, methods=["GET"]),
        Route("/", glue, methods=["POST"]),
        Route("/ui", to_ui, methods=["GET"]),
        Route("/ui/", ui_asset, methods=["GET"]),
        Route("/ui/{name}", ui_asset, methods=["GET"]),
        Route("/api/v1/lineage", endpoint(lambda r, b: collector.post_one(st().commits, r, b, st().strict),
                                          MAX_BODY), methods=["POST"]),
        Route("/api/v1/lineage/batch", endpoint(lambda r, b: collector.post_batch(st().commits, r, b, st().strict),
                                                MAX_BODY), methods=["POST"]),
        Route("/v2/domains/{domain}/lineage/events", endpoint(dz("post_event"), DZ_MAX_BODY), methods=["POST"]),
        Route("/v2/domains/{domain}/lineage/events", endpoint(dz("list_events")), methods=["GET"]),
        Route("/v2/domains/{domain}/lineage/events/{identifier}", endpoint(dz("get_event")), methods=["GET"]),
        Route("/v2/domains/{domain}/lineage/events/{identifier}", endpoint(dz("delete_event")), methods=["DELETE"]),
        Route("/v2/domains/{domain}/lineage/nodes/{rest:path}", endpoint(nodes), methods=["GET"]),
        Route("/v2/domains/{domain}/graph/query", endpoint(dz("query_graph"), DZ_MAX_BODY), methods=["POST"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route(INSTANCE_PATH, whoami, methods=["GET"]),
        Route("/api/v1/cli", endpoint(cli, DZ_MAX_BODY), methods=["POST"]),
        *[Route(path, endpoint(lambda r, f=fn: _synced(st(), f, r)), methods=["GET"])
          for path, fn in viewer.ROUTES.items()],
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(TokenAuth, token=token)],
        exception_handlers={404: not_found, 405: not_allowed, 500: server_error},
    )


def serve(store_path: Path | None, host: str, port: int, token: str | None, log_level: str = "warning",
          strict: bool | None = None, commands: Commands | None = None) -> None:
    import uvicorn

    info = server_file(store_path)
    info.parent.mkdir(parents=True, exist_ok=True)
    local = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host  # what a client dials
    url = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    # the token lets this user's CLI reach the server: the file is readable by its owner only. The instance tells
    # this server from a process that got its pid after a kill -9 left the file behind (client.live_server).
    instance = secrets.token_hex(8)
    fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"pid": os.getpid(), "url": url, "token": token, "instance": instance}, fh)
    # Parsed events stay alive until the mover has stored and derived them: the cyclic GC would rescan them every few
    # hundred allocations, slowing parsing many times over. The request path makes no cycles worth chasing then, so
    # automatic collection is off in the server; the mover collects the young generations every few seconds and
    # everything when it is idle (commits.py).
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        uvicorn.run(create_app(store_path, token, strict=strict, commands=commands, instance=instance,
                               announced=info),
                    host=host, port=port, log_level=log_level, timeout_keep_alive=30, limit_concurrency=512,
                    access_log=False)
    finally:
        info.unlink(missing_ok=True)
