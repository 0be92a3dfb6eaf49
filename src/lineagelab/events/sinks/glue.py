"""The Glue Data Catalog lineage API's PostLineageEvent through boto3: AWS in a region, or the local endpoint of
``lineagelab serve`` at ``endpoint_url``.

PostLineageEvent takes RunEvents and DatasetEvents of at most 300,000 characters and has no idempotency token, so
the sink is not idempotent: replay's ledger carries the guarantee instead (one event in flight at a time).
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from lineagelab.events.sinks import DEFAULT_RETRY, DeliveryError, Event, ExactSink, Refused, RetryPolicy
from lineagelab.events.sinks.datazone import _loopback, _no_delay

log = logging.getLogger(__name__)

#: PostLineageEvent refuses a longer event (characters of its JSON text).
MAX_EVENT_CHARS = 300_000
#: The event kinds PostLineageEvent takes (a JobEvent is not among them).
KINDS = ("RunEvent", "DatasetEvent")


def event_size(body: bytes) -> int:
    """The size PostLineageEvent limits: characters, not bytes."""
    return len(body.decode("utf-8"))


def glue_client(region: str | None, endpoint_url: str | None, policy: RetryPolicy = DEFAULT_RETRY,
                timeout: float = 10.0) -> Any:
    """A boto3 glue client retrying by ``policy``; a local endpoint gets placeholder credentials when there are
    none (it checks no signature, but botocore makes one) and never asks a metadata service for any."""
    import boto3
    import botocore.session
    from botocore.config import Config

    core = botocore.session.get_session()
    creds: dict[str, str] = {}
    if endpoint_url and _loopback(endpoint_url):
        resolver = core.get_component("credential_provider")
        for remote in ("container-role", "iam-role"):
            resolver.remove(remote)
        if core.get_credentials() is None:
            creds = {"aws_access_key_id": "lineagelab-local", "aws_secret_access_key": "lineagelab-local"}
    session = boto3.Session(botocore_session=core, region_name=region or core.get_config_variable("region")
                            or "us-east-1")
    client = session.client("glue", endpoint_url=endpoint_url, **creds,
                            config=Config(retries=policy.botocore(), connect_timeout=timeout, read_timeout=timeout,
                                          tcp_keepalive=True))
    _no_delay(client)
    return client


class GlueLineageSink(ExactSink):
    """RunEvents and DatasetEvents to the Glue lineage API; throttling, 5xx and dropped connections retried."""

    idempotent = False  # no client token: a resent event is a second event, so replay sends one at a time

    def __init__(self, *, region: str | None = None, endpoint_url: str | None = None,
                 policy: RetryPolicy = DEFAULT_RETRY, timeout: float = 10.0):
        self.client: Any = glue_client(region, endpoint_url, policy, timeout)
        self.target = f"glue@{endpoint_url or 'glue.' + self.client.meta.region_name}"

    def emit(self, event: Event) -> None:
        if "run" not in event and "dataset" not in event:
            log.warning("the Glue lineage API takes RunEvents and DatasetEvents: a JobEvent was not sent")
            return
        self._post(orjson.dumps(event))

    def send(self, body: bytes, token: str) -> str | None:
        self._post(body)
        return None  # PostLineageEvent answers with no id

    def close(self) -> None:
        self.client.close()

    def _post(self, body: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        size = event_size(body)
        if size > MAX_EVENT_CHARS:
            raise Refused(f"{size:,} characters; the Glue lineage API accepts at most {MAX_EVENT_CHARS:,}")
        try:
            self.client.post_lineage_event(Event=body.decode("utf-8"))
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = exc.response.get("Error", {}).get("Message") or str(exc)
            code = exc.response.get("Error", {}).get("Code", "")
            if 400 <= status < 500 and status != 429 and code != "ThrottlingException":
                raise Refused(f"{code}: {message}") from None
            raise DeliveryError(f"{self.target}: {code}: {message}") from None
        except BotoCoreError as exc:
            raise DeliveryError(f"{self.target} does not answer: {exc}") from None
