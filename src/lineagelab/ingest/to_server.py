"""Sending events to a running ``lineagelab serve`` instead of opening the store it holds: the server validates
and stores them, and answers for each one."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lineagelab.ingest.reader import read_events

BATCH_EVENTS = 1000  # events a request carries: the server answers each batch in one response


class ServerError(Exception):
    """The server did not answer, or answered with an error status (the message says which)."""


@dataclass(frozen=True)
class ServerCounts:
    accepted: int
    duplicates: int
    rejected: int


def post_events(paths: Iterable[str | Path], url: str, token: str | None,
                on_reject: Callable[[str], None]) -> ServerCounts:
    """Post the events of ``paths`` (as ``read_events`` reads them) to the server's batch endpoint, 1,000 at a time.

    Each rejection, whether the reader's (unreadable JSON) or the server's (an invalid event), goes to ``on_reject``
    as one line naming where the event came from. Raises ``ServerError`` when a request fails; the batches sent before
    it stay stored."""
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
    headers = {"Content-Type": "application/x-ndjson"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    def send(batch: list[tuple[str, bytes]]) -> None:
        req = urllib.request.Request(url.rstrip("/") + "/api/v1/lineage/batch", data=b"\n".join(t for _, t in batch),
                                     headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                body = json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            answer = exc.read().decode(errors="replace")[:300]
            raise ServerError(f"server {url} answered {exc.code}: {answer}") from None
        except OSError as exc:
            raise ServerError(f"server {url} does not answer: {exc}") from None
        for r in body["results"]:
            counts[r["status"]] += 1
            if r["status"] == "rejected":
                on_reject(f"rejected {batch[r['index']][0]}: {r['path']}: {r['message']}")

    batch: list[tuple[str, bytes]] = []
    for raw in read_events(paths):
        if raw.error is not None:
            counts["rejected"] += 1
            on_reject(f"rejected {raw.where}: {raw.error}")
            continue
        batch.append((raw.where, raw.text.replace(b"\n", b" ")))  # one event a line: NDJSON
        if len(batch) >= BATCH_EVENTS:
            send(batch)
            batch = []
    if batch:
        send(batch)
    return ServerCounts(counts["accepted"], counts["duplicate"], counts["rejected"])
