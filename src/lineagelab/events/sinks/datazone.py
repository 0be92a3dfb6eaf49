"""Amazon DataZone's PostLineageEvent through boto3: a real domain, or the local DataZone API at ``endpoint_url``.

Built on openlineage-python's ``AmazonDataZoneTransport`` (its configuration and client lifetime); its client is
made here, to retry by the shared policy, keep its region beside an endpoint override and pass a Client-Token.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any, cast
from urllib.parse import urlsplit

import orjson
from openlineage.client.transport.amazon_datazone import AmazonDataZoneConfig, AmazonDataZoneTransport

from lineagelab.events.sinks import DEFAULT_RETRY, DeliveryError, Event, ExactSink, Refused, RetryPolicy

log = logging.getLogger(__name__)

#: PostLineageEvent refuses a larger event (UTF-8 bytes).
MAX_EVENT_BYTES = 300_000


class _Transport(AmazonDataZoneTransport):
    def __init__(self, config: AmazonDataZoneConfig, policy: RetryPolicy, timeout: float):
        self._policy, self._timeout = policy, timeout
        super().__init__(config)

    def _setup_datazone(self, region: str | None = None, endpoint_url: str | None = None) -> None:
        import boto3
        import botocore.session
        from botocore.config import Config

        core = botocore.session.get_session()
        creds: dict[str, str] = {}
        if endpoint_url and _loopback(endpoint_url):
            resolver = core.get_component("credential_provider")
            for remote in ("container-role", "iam-role"):  # never ask a metadata service for a local endpoint
                resolver.remove(remote)
            if core.get_credentials() is None:  # the local API checks no signature, but botocore makes one
                creds = {"aws_access_key_id": "lineagelab-local", "aws_secret_access_key": "lineagelab-local"}
        session = boto3.Session(botocore_session=core, region_name=region)
        self.datazone = session.client(
            "datazone", endpoint_url=endpoint_url, **creds,
            config=Config(retries=self._policy.botocore(), connect_timeout=self._timeout,
                          read_timeout=self._timeout, tcp_keepalive=True))
        _no_delay(self.datazone)


class DataZoneSink(ExactSink):
    """RunEvents to one DataZone domain; throttling, 5xx and dropped connections retried with the same token."""

    idempotent = True  # DataZone answers a Client-Token it has seen with the id it gave

    def __init__(self, domain: str, *, region: str | None = None, endpoint_url: str | None = None,
                 policy: RetryPolicy = DEFAULT_RETRY, timeout: float = 10.0):
        self.domain = domain
        self._transport = _Transport(
            AmazonDataZoneConfig(domain_id=domain, region=region, endpoint_override=endpoint_url), policy, timeout)
        self.client: Any = cast(Any, self._transport.datazone)  # typed None before its set-up
        where = endpoint_url or f"datazone.{self.client.meta.region_name}"
        self.target = f"datazone:{domain}@{where}"

    def emit(self, event: Event) -> None:
        if "run" not in event:  # as openlineage-python's transport: DataZone takes RunEvents only
            log.warning("DataZone takes RunEvents only: a %s event was not sent",
                        "DatasetEvent" if "dataset" in event else "JobEvent")
            return
        self._post(orjson.dumps(event), None)

    def send(self, body: bytes, token: str) -> str:
        return self._post(body, token)

    def processing_status(self, remote_id: str) -> str | None:
        r = self.client.get_lineage_event(domainIdentifier=self.domain, identifier=remote_id)
        return str(r.get("processingStatus"))

    def close(self) -> None:
        self._transport.close()

    def _post(self, body: bytes, token: str | None) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        if len(body) > MAX_EVENT_BYTES:
            raise Refused(f"{len(body):,} bytes; DataZone accepts at most {MAX_EVENT_BYTES:,}")
        try:
            r = self.client.post_lineage_event(domainIdentifier=self.domain, event=body,
                                               **({"clientToken": token} if token else {}))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            code = exc.response.get("Error", {}).get("Code", "")
            if 400 <= status < 500 and status != 429:
                raise Refused(f"{code}: {message}") from None
            raise DeliveryError(f"{self.target}: {code}: {message}") from None
        except BotoCoreError as exc:
            raise DeliveryError(f"{self.target} does not answer: {exc}") from None
        return str(r["id"])


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_delay(client: Any) -> None:
    """botocore gives urllib3 an empty socket-option list, which drops urllib3's TCP_NODELAY; headers and body then
    go in two segments that wait on the server's delayed ACK. Put it back. Private botocore API: should it change,
    nothing breaks, calls are slower.
    """
    try:
        from urllib3 import PoolManager

        session = client._endpoint.http_session
        session._socket_options.append((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1))
        session._manager = PoolManager(**session._get_pool_manager_kwargs())
    except Exception:  # pragma: no cover - depends on botocore internals
        pass
