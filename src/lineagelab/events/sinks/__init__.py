"""Where events go: one ``Sink`` interface for every destination, and one retry policy for the remote ones.

A sink takes events one at a time (``emit``), may buffer them (``flush`` delivers what it holds) and is closed once
(``close`` flushes). The sinks here need only openlineage-python and boto3; the store's own sink is
``lineagelab.store.sink``. A new destination (the Glue lineage API, say) is one more class implementing ``Sink``,
and ``ExactSink`` too if replay is to use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

#: An OpenLineage event as a JSON document (RunEvent, DatasetEvent or JobEvent).
Event = dict[str, Any]


class Refused(Exception):
    """The target refused the event and would refuse it again (a 4xx other than throttling)."""


class DeliveryError(Exception):
    """The target did not take the event after every retry (5xx, throttling, no answer)."""


@runtime_checkable
class Sink(Protocol):
    """A destination for events. Subclass it for the defaults (``flush`` does nothing, ``close`` flushes)."""

    #: Names the destination in messages and in the replay ledger, e.g. ``http:http://127.0.0.1:5000``.
    target: str

    def emit(self, event: Event) -> None:
        """Deliver one event (or take it into the sink's buffer); raises ``Refused`` or ``DeliveryError``."""
        ...

    def flush(self) -> None:
        """Deliver what the sink holds."""
        return None

    def close(self) -> None:
        """Flush and let go of connections and files; the sink is not used again."""
        self.flush()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


@runtime_checkable
class ExactSink(Sink, Protocol):
    """A remote sink that sends bytes as they are under an idempotency token: what replay needs for exactly once."""

    #: The target recognises a token it has seen and answers it as before (DataZone's Client-Token).
    idempotent: bool

    def send(self, body: bytes, token: str) -> str | None:
        """Send one serialised event; the target's id for it, where it gives one."""
        ...

    def processing_status(self, remote_id: str) -> str | None:
        """What the target made of an event it acknowledged (None where it does not say)."""
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently every remote sink retries throttling, 5xx and dropped connections.

    HTTP sinks hand it to urllib3's ``Retry`` (exponential backoff with jitter, ``Retry-After`` honoured); boto3
    clients to botocore's standard retry mode, which keeps its own backoff. The same request is sent again each
    time, with the same idempotency token where there is one.
    """

    attempts: int = 8
    backoff: float = 0.2  # the first wait in seconds, doubled on each retry
    backoff_max: float = 5.0
    statuses: tuple[int, ...] = (429, 500, 502, 503, 504)

    def urllib3(self) -> dict[str, Any]:
        """Keyword arguments of ``urllib3.util.Retry`` (openlineage-python's ``HttpConfig.retry``)."""
        retries = max(self.attempts - 1, 0)
        return {"total": retries, "connect": retries, "read": retries, "status": retries,
                "backoff_factor": self.backoff, "backoff_max": self.backoff_max, "backoff_jitter": self.backoff / 2,
                "status_forcelist": list(self.statuses), "allowed_methods": ["POST", "GET"],
                "raise_on_status": False}  # the last answer is returned, so its message can be told

    def botocore(self) -> dict[str, Any]:
        """The ``retries`` of a ``botocore.config.Config``."""
        return {"mode": "standard", "total_max_attempts": self.attempts}  # its max_attempts counts retries only


DEFAULT_RETRY = RetryPolicy()
