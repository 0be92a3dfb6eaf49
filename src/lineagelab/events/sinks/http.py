"""OpenLineage over HTTP: our collector, Marquez, any backend taking ``POST {url}/api/v1/lineage``.

Built on openlineage-python's ``HttpTransport``: its session, URL check, bearer-token provider and urllib3 retries.
Events as documents go through the transport's own ``emit``; bytes already serialised (replay's exact bodies, NDJSON
batches for our collector) through the same session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urljoin

import orjson
import requests
from openlineage.client.transport.http import HttpConfig, HttpTransport

from lineagelab.events.sinks import DEFAULT_RETRY, DeliveryError, Event, ExactSink, Refused, RetryPolicy

BATCH_ENDPOINT = "api/v1/lineage/batch"


class _Transport(HttpTransport):
    def post(self, body: bytes, endpoint: str, content_type: str) -> requests.Response:
        """POST these bytes as they are, with the headers ``emit`` would send."""
        headers = {"Content-Type": content_type, **self._auth_headers(self.config.auth), **self.config.custom_headers}
        return self.session.post(urljoin(self.url, endpoint), data=body, headers=headers, timeout=self.timeout,
                                 verify=self.verify)


class HttpSink(ExactSink):
    """Events to ``{url}/{endpoint}``; throttling, 5xx and dropped connections retried by ``policy``."""

    idempotent = False  # an OpenLineage HTTP backend has no idempotency token (ours deduplicates by content)

    def __init__(self, url: str, *, endpoint: str = "api/v1/lineage", token: str | None = None,
                 timeout: float = 10.0, policy: RetryPolicy = DEFAULT_RETRY):
        self.url = url
        self.target = f"http:{url.rstrip('/')}"
        config: dict[str, Any] = {"url": url.rstrip("/") + "/",  # a base URL's path is kept when joined
                                  "endpoint": endpoint, "timeout": timeout, "retry": policy.urllib3()}
        if token:
            config["auth"] = {"type": "api_key", "apiKey": token}
        self._transport = _Transport(HttpConfig.from_dict(config))

    def emit(self, event: Event) -> None:
        try:
            self._transport.emit(event)  # type: ignore[arg-type]  # Serde takes spec dicts as they are
        except requests.HTTPError as exc:
            _raise_for(exc.response)
            raise DeliveryError(f"{self.target}: {exc}") from None
        except requests.RequestException as exc:
            raise DeliveryError(f"{self.target} does not answer: {exc}") from None

    def send(self, body: bytes, token: str) -> str | None:
        _raise_for(self._post(body, self._transport.endpoint, "application/json"))
        return None

    def post_batch(self, lines: list[bytes]) -> list[dict[str, Any]]:
        """Our collector's batch endpoint: one result per line (accepted, duplicate or rejected with a path)."""
        resp = self._post(b"\n".join(lines), BATCH_ENDPOINT, "application/x-ndjson")
        if resp.status_code >= 400:
            raise DeliveryError(f"server {self.url} answered {resp.status_code}: {resp.text[:300]}")
        results: list[dict[str, Any]] = orjson.loads(resp.content)["results"]
        return results

    def close(self) -> None:
        self._transport.close()

    def _post(self, body: bytes, endpoint: str, content_type: str) -> requests.Response:
        try:
            return self._transport.post(body, endpoint, content_type)
        except requests.RequestException as exc:
            raise DeliveryError(f"server {self.url} does not answer: {exc}") from None


def _raise_for(resp: requests.Response | None) -> None:
    if resp is None or resp.status_code < 400:
        return
    message = f"HTTP {resp.status_code}: {resp.text[:300]}"
    if resp.status_code < 500 and resp.status_code != 429:
        raise Refused(message)
    raise DeliveryError(message)


class Readable(Protocol):
    """An event as a reader gives it (``lineagelab.ingest.reader.RawEvent``): its bytes, or why it has none."""

    @property
    def where(self) -> str: ...
    @property
    def text(self) -> bytes: ...
    @property
    def error(self) -> str | None: ...


@dataclass
class BatchReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def send_batches(sink: HttpSink, raws: Iterable[Readable], rejected: Callable[[str], None], *,
                 size: int = 1000) -> BatchReport:
    """Post events to our collector ``size`` at a time; it validates and stores them (``ingest --server``).

    ``rejected`` is told each event refused, by the reader or the server, as one line naming where it was read.
    """
    report = BatchReport()
    batch: list[tuple[str, bytes]] = []

    def post() -> None:
        for r in sink.post_batch([text for _, text in batch]):
            status = r["status"]
            if status == "rejected":
                report.rejected += 1
                rejected(f"rejected {batch[r['index']][0]}: {r['path']}: {r['message']}")
            elif status == "duplicate":
                report.duplicates += 1
            else:
                report.accepted += 1
        batch.clear()

    for raw in raws:
        if raw.error is not None:
            report.rejected += 1
            rejected(f"rejected {raw.where}: {raw.error}")
            continue
        batch.append((raw.where, raw.text.replace(b"\n", b" ")))  # one event a line, whatever its layout
        if len(batch) >= size:
            post()
    if batch:
        post()
    return report
