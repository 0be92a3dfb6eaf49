"""Finding the server that holds a store (from the server file it writes beside the store) and sending it events:
what a client of a served store needs below the CLI."""

from __future__ import annotations

import http.client
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lineagelab.store.store import IngestReport, default_path


def server_file(store_path: str | os.PathLike[str] | None) -> Path:
    """Where a running server says where it is (``{pid, url, token, instance}``), beside its store: clients of the
    same store find it there."""
    store = Path(store_path) if store_path is not None else default_path()
    return store.with_name(store.name + ".server.json")


#: The path a server answers with its ``instance`` (unauthenticated: a client checks it before sending its token).
INSTANCE_PATH = "/api/v1/instance"
#: How long a client waits for that answer: a server too busy to give it is taken to be the one in the file.
PROBE_TIMEOUT = 0.75


@dataclass(frozen=True)
class Server:
    url: str
    token: str | None


def live_server(store: Path) -> Server | None:
    """The server holding ``store``, from its server file: its process alive and, when the file names an instance,
    answering with it (a pid the system gave to another process after a ``kill -9`` is not a server). A dead
    process's file is removed."""
    file = server_file(store)
    try:
        text = file.read_text("utf-8")
        info = json.loads(text)
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        _remove_stale(file, text)  # a server that was killed left its file
        return None
    except PermissionError:
        pass  # alive, another user's
    instance = info.get("instance")
    # a file without an instance was written by an older lineagelab: its pid is all there is to go by
    if isinstance(instance, str) and not _answers_as(url, instance):
        return None
    token = info.get("token")
    return Server(url, token if isinstance(token, str) else None)


def _remove_stale(file: Path, text: str) -> None:
    """Best effort, and only if the file still says what was read: a new server may have just written its own."""
    try:
        if file.read_text("utf-8") == text:
            file.unlink()
    except OSError:
        pass


def _answers_as(url: str, instance: str) -> bool:
    """Whether the server at ``url`` is the one with ``instance``; a busy one (no answer in time) is taken to be."""
    parts = urlsplit(url)
    # http.client, not urllib: a loopback address must not go through the environment's HTTP proxy
    con = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=PROBE_TIMEOUT)
    try:
        con.request("GET", INSTANCE_PATH)
        resp = con.getresponse()
        body = resp.read(1024)
    except TimeoutError:
        return True
    except (OSError, http.client.HTTPException):
        return False  # refused or reset: nothing, or something else, listens there
    finally:
        con.close()
    if resp.status == 503:  # uvicorn's answer past its concurrency limit: busy
        return True
    try:
        return resp.status == 200 and json.loads(body).get("instance") == instance
    except (ValueError, AttributeError):
        return False


def post_events(server: Server, docs: list[Any], source: str) -> IngestReport:
    """Events to the server's collector (its batch endpoint), reported as an ingest reports them."""
    import orjson

    from lineagelab.events.sinks.http import HttpSink
    from lineagelab.ingest.prepare import Rejection

    report = IngestReport()
    if not docs:
        return report
    with HttpSink(server.url, token=server.token, timeout=120) as sink:
        for start in range(0, len(docs), 1000):
            chunk = docs[start:start + 1000]
            for r in sink.post_batch([orjson.dumps(d) for d in chunk]):
                if r["status"] == "rejected":
                    report.rejected.append(Rejection(f"{source}:event {start + r['index']}", r["path"],
                                                     r["message"]))
                elif r["status"] == "duplicate":
                    report.duplicates += 1
                else:
                    report.accepted += 1
                    report.accepted_ids.append(r["id"])
    return report
