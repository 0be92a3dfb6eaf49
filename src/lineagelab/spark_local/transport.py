"""Where captured events go, read from ``spark.openlineage.transport.*`` as openlineage-spark reads it.

``amazon_datazone_api`` goes to the local lineage store (the CLI ingests), or to a local DataZone endpoint when
``spark.openlineage.transport.endpointOverride`` names one; ``http``, ``file`` and ``console`` use
openlineage-python's own transports. No transport configured means the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PREFIX = "spark.openlineage.transport."


@dataclass(frozen=True)
class Route:
    kind: str  # store | datazone | http | file | console
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
            return Route("datazone", endpoint=override, domain=conf.get(PREFIX + "domainId"),
                         region=conf.get(PREFIX + "region", region))
        return Route("store", domain=conf.get(PREFIX + "domainId"))
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
    raise ValueError(f"{PREFIX}type={kind!r} is not supported (amazon_datazone_api, http, file, console)")


def send(events: Iterable[dict[str, Any]], r: Route) -> int:
    """Deliver to a non-store route; returns how many were sent."""
    events = list(events)
    if r.kind == "console":
        for e in events:
            print(json.dumps(e, sort_keys=True))
    elif r.kind == "file":
        assert r.location
        path = Path(r.location)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as fh:
            for e in events:
                fh.write(json.dumps(e) + "\n")
    elif r.kind == "http":
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        assert r.url
        transport = HttpTransport(HttpConfig.from_dict({"url": r.url, "endpoint": r.endpoint}))
        for e in events:
            transport.emit(e)  # type: ignore[arg-type]  # Serde takes spec dicts as they are
    elif r.kind == "datazone":
        import boto3

        session = boto3.Session(region_name=r.region)
        # a local endpoint needs some signature; real credentials, where configured, are used as they are
        creds = {} if session.get_credentials() is not None else {
            "aws_access_key_id": "lineagelab-local", "aws_secret_access_key": "lineagelab-local"}
        client = session.client("datazone", endpoint_url=r.endpoint, **creds)
        for e in events:
            client.post_lineage_event(domainIdentifier=r.domain, event=json.dumps(e).encode())
    else:
        raise ValueError(f"route {r.kind} is delivered by the caller")
    return len(events)

