"""Finding the server that holds a store (from the server file it writes beside the store) and sending it events:
what a client of a served store needs below the CLI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lineagelab.store.store import IngestReport, default_path


def server_file(store_path: str | os.PathLike[str] | None) -> Path:
    """Where a running server says where it is (``{pid, url, token}``), beside its store: clients of the same store
    find it there."""
    store = Path(store_path) if store_path is not None else default_path()
    return store.with_name(store.name + ".server.json")


@dataclass(frozen=True)
class Server:
    url: str
    token: str | None


def live_server(store: Path) -> Server | None:
    """The server holding ``store``, from its server file, if that process is alive."""
    try:
        info = json.loads(server_file(store).read_text("utf-8"))
        pid, url = int(info["pid"]), str(info["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pid == os.getpid():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a server that was killed left its file
    except PermissionError:
        pass  # alive, another user's
    token = info.get("token")
    return Server(url, token if isinstance(token, str) else None)


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
