"""Where captured events go, read from ``spark.openlineage.transport.*`` as openlineage-spark reads it.

``amazon_datazone_api`` goes to the local lineage store, or to a DataZone endpoint when
``spark.openlineage.transport.endpointOverride`` names one. ``amazon_glue_api`` (Glue 6.1+, EMR spark 8.2+) goes to
the store too, or to the Glue lineage API at ``endpointOverride`` (``lineagelab serve``, or AWS's), or to AWS's in
``spark.openlineage.transport.region`` when only that is given. ``http``, ``file`` and ``console`` go to the sinks of
those names. No transport configured means the store. ``open_sink`` makes a route's sink.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lineagelab.events.sinks import Sink
from lineagelab.events.sinks.datazone import DataZoneSink
from lineagelab.events.sinks.glue import GlueLineageSink
from lineagelab.events.sinks.http import HttpSink
from lineagelab.events.sinks.local import ConsoleSink, FileSink
from lineagelab.store.sink import StoreSink
from lineagelab.store.store import Store

PREFIX = "spark.openlineage.transport."


@dataclass(frozen=True)
class Route:
    kind: str  # store | datazone | glue | http | file | console
    url: str | None = None
    endpoint: str | None = None
    domain: str | None = None
    location: str | None = None
    region: str | None = None


def route(conf: Mapping[str, str], region: str) -> Route:
    kind = conf.get(PREFIX + "type", "").strip()
    if kind == "amazon_datazone_api":
        override = conf.get(PREFIX + "endpointOverride")
        if override:
            if not conf.get(PREFIX + "domainId"):
                raise ValueError(f"{PREFIX}endpointOverride needs {PREFIX}domainId (dzd_…)")
            return Route("datazone", endpoint=override, domain=conf.get(PREFIX + "domainId"),
                         region=conf.get(PREFIX + "region", region))
        return Route("store", domain=conf.get(PREFIX + "domainId"))
    if kind == "amazon_glue_api":
        override, own_region = conf.get(PREFIX + "endpointOverride"), conf.get(PREFIX + "region")
        if override:
            return Route("glue", endpoint=override, region=own_region or region)
        if own_region:  # AWS's own endpoint in that region (url: where, for messages)
            return Route("glue", url=f"https://glue.{own_region}.amazonaws.com", region=own_region)
        return Route("store")
    if kind == "http":
        url = conf.get(PREFIX + "url")
        if not url:
            raise ValueError(f"{PREFIX}type=http needs {PREFIX}url")
        return Route("http", url=url, endpoint=conf.get(PREFIX + "endpoint", "api/v1/lineage"))
    if kind == "file":
        return Route("file", location=conf.get(PREFIX + "location", "openlineage.ndjson"))
    if kind == "console":
        return Route("console")
    if kind in ("", "store"):
        return Route("store")
    raise ValueError(f"{PREFIX}type={kind!r} is not supported (amazon_datazone_api, amazon_glue_api, http, file, "
                     "console)")


def _store(r: Route, store: Store | None, source: str) -> Sink:
    if store is None:
        raise ValueError(f"route {r.kind} is delivered by the caller")
    return StoreSink(store, source)


# one sink a route kind; every one but the store's needs only the route
_SINKS: dict[str, Callable[[Route, Store | None, str], Sink]] = {
    "store": _store,
    "datazone": lambda r, store, source: DataZoneSink(r.domain or "", region=r.region, endpoint_url=r.endpoint),
    "glue": lambda r, store, source: GlueLineageSink(region=r.region, endpoint_url=r.endpoint),
    "http": lambda r, store, source: HttpSink(r.url or "", endpoint=r.endpoint or "api/v1/lineage"),
    "file": lambda r, store, source: FileSink(r.location or "openlineage.ndjson"),
    "console": lambda r, store, source: ConsoleSink(),
}


def open_sink(r: Route, store: Store | None = None, source: str = "spark") -> Sink:
    """The sink a route names; the store's needs the open ``store`` (events stored as from ``source``)."""
    return _SINKS[r.kind](r, store, source)


def send(events: Iterable[dict[str, Any]], r: Route) -> int:
    """Deliver to a non-store route; returns how many were sent."""
    n = 0
    with open_sink(r) as sink:
        for e in events:
            sink.emit(e)
            n += 1
    return n
