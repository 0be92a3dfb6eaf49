"""The one event a lineage API request carries (DataZone's and Glue's PostLineageEvent): parsed and told apart,
or refused with what is wrong in the API's own words."""

from __future__ import annotations

from typing import Any

import orjson

from lineagelab.events.validation import EventKind, InvalidEvent, event_kind


class BadEvent(ValueError):
    """The request's event is no JSON, or no OpenLineage event; the API answers its validation error with this."""


def read_event(body: bytes | str, what: str, expected: str) -> tuple[Any, EventKind]:
    """The event and its kind. ``what`` names the event as the API does ("event", "Event"); ``expected`` says what
    it takes ("RunEvent", "event")."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadEvent(f"{what} is not valid JSON: {exc}") from None
    try:
        return doc, event_kind(doc)
    except InvalidEvent as exc:
        raise BadEvent(f"{what} is not an OpenLineage {expected}: {exc.message}") from None
