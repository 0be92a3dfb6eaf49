"""Liberal acceptance: what an event needs to be stored and understood, and its other deviations as warnings.

Real producers break the spec in small ways (openlineage-spark 1.23 gives ``dataSource.uri`` as ``"file"``, times come
without a zone or with nanoseconds, ``schemaURL`` is left out). Refusing such an event loses lineage that is plainly
there, so an event is refused only when it cannot be stored and understood (``understand``): not an object, no run id,
job or dataset name and namespace as its kind requires, or an ``eventTime`` that does not parse. Every other
deviation from the spec's schemas is kept with the event as a warning naming its JSON path (``deviations``).

Strict mode keeps the full validation (``validation.validate_event``) and its messages: ``strict(None)`` is the
process's choice, ``LINEAGELAB_STRICT=1`` in the environment, so that ingest worker processes inherit it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from lineagelab.events.identity import parse_time
from lineagelab.events.validation import COMPOSED_ID, EventKind, InvalidEvent, _composed_registry, event_kind

STRICT_ENV = "LINEAGELAB_STRICT"
#: Warnings kept per event at most (an event breaking one rule in every one of 10,000 fields says so once enough)
MAX_WARNINGS = 50
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class EventWarning:
    """A deviation from the spec an event was accepted with: ``path`` is a JSON path inside it (``$.eventTime``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def strict(choice: bool | None = None) -> bool:
    """Whether events get the full validation: ``choice`` when given, else the environment's ``LINEAGELAB_STRICT``."""
    return choice if choice is not None else os.environ.get(STRICT_ENV, "") not in ("", "0")


@contextmanager
def strictly(on: bool = True) -> Iterator[None]:
    """Full validation (``on``) or liberal acceptance for everything this process, and the ingest worker processes
    it starts meanwhile, validates."""
    before = os.environ.get(STRICT_ENV)
    os.environ[STRICT_ENV] = "1" if on else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(STRICT_ENV, None)
        else:
            os.environ[STRICT_ENV] = before


@dataclass(frozen=True, slots=True)
class Understood:
    """An event accepted with deviations: its kind, time, the document to derive facts from, and the warnings."""

    kind: EventKind
    event_time: datetime
    doc: dict[str, Any]
    warnings: tuple[EventWarning, ...]


def _required_text(holder: Any, path: str, key: str) -> None:
    if not isinstance(holder, Mapping):
        raise InvalidEvent(path, "must be an object")
    value = holder.get(key)
    if value is None:
        raise InvalidEvent(path, f"missing required property {key!r}")
    if not isinstance(value, str) or not value:
        raise InvalidEvent(f"{path}.{key}", "must be a non-empty string")


#: What each kind needs to be understood: (object key, property)
_NEEDS = {
    EventKind.RUN: (("run", "runId"), ("job", "namespace"), ("job", "name")),
    EventKind.JOB: (("job", "namespace"), ("job", "name")),
    EventKind.DATASET: (("dataset", "namespace"), ("dataset", "name")),
}
#: Top-level values stored in text columns of ``raw_events``: another type is left out of the derived document
_TEXT_FIELDS = ("eventType", "producer", "schemaURL")


def understand(doc: Any) -> Understood:
    """Accept ``doc`` if it can be stored and understood (else raise InvalidEvent naming why), with its deviations
    from the spec as warnings."""
    kind = event_kind(doc)
    for key, prop in _NEEDS[kind]:
        _required_text(doc.get(key), f"$.{key}", prop)
    value = doc.get("eventTime")
    if value is None:
        raise InvalidEvent("$", "missing required property 'eventTime'")
    if not isinstance(value, str):
        raise InvalidEvent("$.eventTime", "must be a string")
    try:
        event_time = parse_time(value)
    except ValueError as exc:
        raise InvalidEvent("$.eventTime", f"not an ISO-8601 timestamp: {exc}") from None
    usable = dict(doc)
    for key in _TEXT_FIELDS:
        if key in usable and not isinstance(usable[key], str):
            del usable[key]
    return Understood(kind, event_time, usable, tuple(deviations(doc, kind)))


@cache
def _validator(kind: EventKind) -> Any:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator({"$ref": f"{COMPOSED_ID}#/$defs/{kind.value}"},
                                              registry=_composed_registry(), validate_formats=True)


def _json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def deviations(doc: Any, kind: EventKind) -> list[EventWarning]:
    """Every place ``doc`` breaks the spec's schemas (the core schema and the standard facets' own), at most
    ``MAX_WARNINGS``. A facets object's "valid under none of the schemas" is left out where a facet inside it says
    what is wrong."""
    try:
        errors = [(_json_path(e.instance_path), e) for e in _validator(kind).iter_errors(doc)]
    except (ValueError, TypeError, OverflowError) as exc:  # values jsonschema-rs cannot take (huge integers)
        return [EventWarning("$", f"not checked against the spec: {exc}"[:_MAX_MESSAGE])]
    paths = [path for path, _ in errors]
    out: list[EventWarning] = []
    for path, err in errors:
        if type(err.kind).__name__ in ("AnyOf", "OneOf") and any(p.startswith((path + ".", path + "[")) for p in paths):
            continue
        warning = EventWarning(path, str(err.message)[:_MAX_MESSAGE])
        if warning in out:  # one value failing a rule that several branches of the schema share
            continue
        out.append(warning)
        if len(out) >= MAX_WARNINGS:
            break
    return out


def warnings_of(doc: Any, kind: EventKind) -> list[EventWarning]:
    """The warnings of a stored event (one read again from the raw table): none for a valid one."""
    from lineagelab.events.validation import accepts

    valid = accepts(kind.value)
    if valid is not None and valid(doc):
        return []
    return deviations(doc, kind)


def named_datasets(items: Any) -> list[dict[str, Any]]:
    """The datasets of an ``inputs`` or ``outputs`` array that can be understood (objects with a text namespace and
    name): what readers of stored events fold into graphs, where an event accepted with warnings may hold others."""
    if not isinstance(items, list):
        return []
    return [ds for ds in items if isinstance(ds, dict) and isinstance(ds.get("namespace"), str)
            and isinstance(ds.get("name"), str)]


def facets(holder: Any) -> dict[str, Any]:
    """``holder["facets"]`` when both are objects, else no facets."""
    value = holder.get("facets") if isinstance(holder, dict) else None
    return value if isinstance(value, dict) else {}
