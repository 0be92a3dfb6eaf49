"""Validate OpenLineage events against the official JSON Schemas shipped in ``events/spec``.

The core schema's top-level ``oneOf`` only says "valid by exactly one definition" when anything is wrong, which tells a
user nothing. So the event kind is decided here (with the same rules the ``oneOf`` branches encode) and the event is
validated against that one definition, which yields the JSON path of the first problem. Standard facets are then checked
against the facet schema their ``_schemaURL`` names (resolved to the file of the same name), as the spec prescribes.
Valid events (nearly all of them) are accepted by one jsonschema-rs call (Rust, compiled once) against a composed
schema: the core schema whose facet containers also apply that per-facet rule (``_composed_schema``), ~18 us for a
4.9 KB event against ~35 us for the core check plus a call per facet. An event it rejects is validated again step by
step with fastjsonschema, whose errors carry the JSON path and a plain message.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when an event is rejected: a valid event never needs it
    import fastjsonschema

CORE_ID = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


class EventKind(StrEnum):
    RUN = "RunEvent"
    DATASET = "DatasetEvent"
    JOB = "JobEvent"


class InvalidEvent(ValueError):
    """An event that breaks the spec; ``path`` is a JSON path inside the event (``$.run.runId``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True)
class _Schemas:
    by_id: dict[str, dict[str, Any]]
    facet_files: dict[str, str]  # "SchemaDatasetFacet.json" -> $id


@cache
def _schemas() -> _Schemas:
    root = resources.files("lineagelab.events") / "spec"
    by_id: dict[str, dict[str, Any]] = {}
    core = json.loads((root / "OpenLineage.json").read_text("utf-8"))
    by_id[core["$id"]] = core
    facet_files: dict[str, str] = {}
    for entry in (root / "facets").iterdir():
        if entry.name.endswith(".json"):
            doc = json.loads(entry.read_text("utf-8"))
            by_id[doc["$id"]] = doc
            facet_files[entry.name] = doc["$id"]
    return _Schemas(by_id, facet_files)


def _resolve(uri: str) -> dict[str, Any]:
    base = uri.split("#", 1)[0]
    try:
        return _schemas().by_id[base]
    except KeyError:
        import fastjsonschema

        raise fastjsonschema.JsonSchemaDefinitionException(f"unknown schema {base}") from None


@cache
def _compiled(ref: str) -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile({"$ref": ref}, handlers={"https": _resolve, "http": _resolve})  # type: ignore[no-any-return]


@cache
def _registry() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Registry(list(_schemas().by_id.items()))


@cache
def _fast(ref: str) -> Callable[[Any], bool] | None:
    """jsonschema-rs's ``is_valid`` for ``ref`` (None without the package: fastjsonschema does it all)."""
    try:
        import jsonschema_rs
    except ImportError:  # pragma: no cover - a dependency; kept optional for odd platforms
        return None
    validator = jsonschema_rs.Draft202012Validator({"$ref": ref}, registry=_registry(), validate_formats=True)

    def is_valid(doc: Any) -> bool:
        try:
            return bool(validator.is_valid(doc))
        except (ValueError, TypeError, OverflowError):  # values it cannot take (huge ints): the slow path decides
            return False

    return is_valid


COMPOSED_ID = "urn:lineagelab:openlineage-with-facets"


def _file_rule(file: str, sid: str, otherwise: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """(pattern of URLs naming ``file``, rule validating a facet as ``facet_schema_ref`` would for such a URL)."""
    defs = _schemas().by_id[sid].get("$defs", {})
    base = "^(?:[^#]*/)?" + re.escape(file)
    chain = [(base + r"#/\$defs/(?:[\s\S]*/)?" + re.escape(name) + "$", name) for name in sorted(defs)]
    if file[:-5] in defs:
        chain.append((base + r"(?:#[\s\S]*)?$", file[:-5]))
    rule = otherwise
    for pattern, name in reversed(chain):
        step: dict[str, Any] = {"if": _url_matches(pattern), "then": {"$ref": f"{sid}#/$defs/{name}"}}
        if rule is not None:
            step["else"] = rule
        rule = step
    return base + r"(?:#[\s\S]*)?$", rule or {}


def _url_matches(pattern: str) -> dict[str, Any]:
    return {"type": "object", "required": ["_schemaURL"],
            "properties": {"_schemaURL": {"type": "string", "pattern": pattern}}}


@cache
def _composed_schema() -> dict[str, Any]:
    """The core schema whose facet containers also check standard facets against their own schemas (the rule of
    ``validate_facet``), so that a valid event is accepted by one jsonschema-rs call; per-facet calls from Python
    cost ~3x the core check. A facet under its conventional key (``schema``, ``columnLineage``: each facet file names
    its key) is tried against that file first; any other facet walks the rule for every file."""
    core = json.loads(json.dumps(_schemas().by_id[CORE_ID]))
    core["$id"] = COMPOSED_ID
    files = sorted(_schemas().facet_files.items())
    everything: dict[str, Any] | None = None
    for file, sid in reversed(files):
        pattern, file_rule = _file_rule(file, sid, None)
        step: dict[str, Any] = {"if": _url_matches(pattern), "then": file_rule}
        if everything is not None:
            step["else"] = everything
        everything = step
    # A custom facet (its URL names no standard facet file) would fail every file's test in turn: one pattern of all
    # the files settles it first (measured: 20.6 -> 15-16 us an event on the seed's Spark events, whose
    # environment-properties facet is custom).
    any_file = "^(?:[^#]*/)?(?:" + "|".join(re.escape(f) for f, _ in files) + r")(?:#[\s\S]*)?$"
    core["$defs"]["LLAnyFacet"] = {"if": _url_matches(any_file), "then": everything or {}}
    by_key: dict[str, list[tuple[str, str]]] = {}
    for file, sid in files:
        for key, spec in _schemas().by_id[sid].get("properties", {}).items():
            if isinstance(spec, dict) and "$ref" in spec:
                by_key.setdefault(key, []).append((file, sid))
    keyed: dict[str, Any] = {}
    for key, owners in by_key.items():
        rule: dict[str, Any] = {"$ref": "#/$defs/LLAnyFacet"}
        for file, sid in reversed(owners):
            pattern, inner = _file_rule(file, sid, rule)
            rule = {"if": _url_matches(pattern), "then": inner, "else": rule}
        keyed[key] = rule
    core["$defs"]["LLFacets"] = {"properties": keyed, "additionalProperties": {"$ref": "#/$defs/LLAnyFacet"}}
    for container in facet_containers(core):
        container["allOf"] = [{"$ref": "#/$defs/LLFacets"}]
    return core  # type: ignore[no-any-return]


def facet_containers(core: dict[str, Any]) -> list[dict[str, Any]]:
    """The schemas of the core schema's facet containers (run, job and dataset facets, input and output facets):
    where a standard facet is also checked against the schema its ``_schemaURL`` names."""
    d = core["$defs"]
    return [d["Run"]["properties"]["facets"], d["Job"]["properties"]["facets"], d["Dataset"]["properties"]["facets"],
            d["InputDataset"]["allOf"][1]["properties"]["inputFacets"],
            d["OutputDataset"]["allOf"][1]["properties"]["outputFacets"]]


@cache
def _composed_registry() -> Any:
    import jsonschema_rs

    return jsonschema_rs.Registry([*_schemas().by_id.items(), (COMPOSED_ID, _composed_schema())])


#: What ``accepts`` checks, by name: the core schema's event and dataset definitions, and the run's and job's facet
#: containers (an event is valid exactly when it is with those emptied and each is valid: nothing else looks into them)
_DEFINITIONS = {**{name: f"#/$defs/{name}" for name in ("RunEvent", "JobEvent", "DatasetEvent", "InputDataset",
                                                         "OutputDataset")},
                "RunFacets": "#/$defs/Run/properties/facets", "JobFacets": "#/$defs/Job/properties/facets"}


@cache
def _accepting() -> Any:
    """One jsonschema-rs validator for every ``_DEFINITIONS`` entry, each a property of a wrapper object (one
    compilation of the shared facet rules per process, not one per definition)."""
    import jsonschema_rs

    wrapper = {"properties": {name: {"$ref": COMPOSED_ID + ref} for name, ref in _DEFINITIONS.items()}}
    return jsonschema_rs.Draft202012Validator(wrapper, registry=_composed_registry(), validate_formats=True)


@cache
def accepts(definition: str) -> Callable[[Any], bool] | None:
    """Accepts a value valid in every respect ``validate_event`` checks as the core schema's ``definition``
    ("RunEvent", "InputDataset", "RunFacets"…; None without jsonschema-rs). An event is valid exactly when it is
    without its ``inputs`` and ``outputs`` items and each of them is valid as an ``InputDataset`` or
    ``OutputDataset``: the arrays' items are checked one by one, nothing else looks into them."""
    try:
        validator = _accepting()
    except ImportError:  # pragma: no cover - a dependency; kept optional for odd platforms
        return None
    is_valid_as = validator.is_valid

    def is_valid(doc: Any) -> bool:
        try:
            return bool(is_valid_as({definition: doc}))
        except (ValueError, TypeError, OverflowError):
            return False

    return is_valid


def _rs_rejects(ref: str, doc: Any) -> bool:
    """A real rejection by jsonschema-rs (not a value it could not take)."""
    import jsonschema_rs

    validator = jsonschema_rs.Draft202012Validator({"$ref": ref}, registry=_registry(), validate_formats=True)
    try:
        return not validator.is_valid(doc)
    except (ValueError, TypeError, OverflowError):
        return False


def _rs_error(ref: str, doc: Any, prefix: str) -> InvalidEvent:
    """jsonschema-rs rejected what fastjsonschema accepted: report jsonschema-rs's first error."""
    import jsonschema_rs

    validator = jsonschema_rs.Draft202012Validator({"$ref": ref}, registry=_registry(), validate_formats=True)
    for err in validator.iter_errors(doc):
        path = prefix + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.instance_path)
        return InvalidEvent(path, str(err.message))
    return InvalidEvent(prefix, "invalid")  # pragma: no cover - is_valid and iter_errors agree


def event_kind(doc: Any) -> EventKind:
    """Decide the kind with the rules of the core schema's ``oneOf`` branches."""
    if not isinstance(doc, Mapping):
        raise InvalidEvent("$", f"an event must be a JSON object, got {_json_type(doc)}")
    has_run, has_job, has_dataset = "run" in doc, "job" in doc, "dataset" in doc
    if has_run and has_job:
        return EventKind.RUN
    if has_dataset and has_job and not has_run:
        raise InvalidEvent("$", "ambiguous event: has both 'dataset' (DatasetEvent) and 'job' (JobEvent)")
    if has_dataset:
        return EventKind.DATASET
    if has_job:
        return EventKind.JOB
    if has_run:
        raise InvalidEvent("$", "RunEvent is missing required property 'job'")
    raise InvalidEvent("$", "not an OpenLineage event: needs 'run' and 'job' (RunEvent), 'dataset' or 'job'")


def _json_type(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), "number" if isinstance(value, int | float) else type(value).__name__
    )


def _path(prefix: str, exc: fastjsonschema.JsonSchemaValueException) -> str:
    parts = list(exc.path or [])[1:]  # first element is the root ("data")
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) or (isinstance(part, str) and part.isdigit()) else f".{part}"
    return out


def _message(exc: fastjsonschema.JsonSchemaValueException) -> str:
    msg = str(exc.message)
    name = str(exc.name)
    # fastjsonschema phrases messages as "data.run.runId must be string"; we already give the path.
    if msg.startswith(name + " "):
        msg = msg[len(name) + 1 :]
    elif msg.startswith("data "):
        msg = msg[5:]
    if exc.rule == "required" and exc.rule_definition:
        missing = [k for k in exc.rule_definition if isinstance(exc.value, Mapping) and k not in exc.value]
        if missing:
            msg = f"missing required property {missing[0]!r}"
    elif exc.rule == "format" or exc.rule == "enum":
        msg = f"{msg} (got {exc.value!r})"[:300]
    return msg


def _facet_locations(doc: Mapping[str, Any], kind: EventKind) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Yield (json path, facets object) for every facets container of an event."""

    def dataset(prefix: str, ds: Any, extra: str | None) -> Iterator[tuple[str, Mapping[str, Any]]]:
        if isinstance(ds, Mapping):
            if isinstance(ds.get("facets"), Mapping):
                yield f"{prefix}.facets", ds["facets"]
            if extra and isinstance(ds.get(extra), Mapping):
                yield f"{prefix}.{extra}", ds[extra]

    if kind is EventKind.DATASET:
        yield from dataset("$.dataset", doc.get("dataset"), None)
        return
    run, job = doc.get("run"), doc.get("job")
    if isinstance(run, Mapping) and isinstance(run.get("facets"), Mapping):
        yield "$.run.facets", run["facets"]
    if isinstance(job, Mapping) and isinstance(job.get("facets"), Mapping):
        yield "$.job.facets", job["facets"]
    for side, extra in (("inputs", "inputFacets"), ("outputs", "outputFacets")):
        items = doc.get(side)
        if isinstance(items, list):
            for i, ds in enumerate(items):
                yield from dataset(f"$.{side}[{i}]", ds, extra)


def facet_schema_ref(schema_url: Any) -> str | None:
    """The ``$ref`` of the standard facet a ``_schemaURL`` names, or None for custom facets.

    The file is the URL's last path segment; the definition is the URL's ``#/$defs/X`` fragment when the file has
    it (LineageFacet.json holds two facets), else the definition named after the file.
    """
    if not isinstance(schema_url, str):
        return None
    base, _, fragment = schema_url.partition("#")
    file = base.rsplit("/", 1)[-1]
    sid = _schemas().facet_files.get(file)
    if sid is None:
        return None
    defs = _schemas().by_id[sid].get("$defs", {})
    name = fragment.rsplit("/", 1)[-1] if fragment.startswith("/$defs/") else file[:-5]
    if name not in defs:
        name = file[:-5]
        if name not in defs:
            return None
    return f"{sid}#/$defs/{name}"


def validate_facet(path: str, facet: Any) -> None:
    """Raise InvalidEvent naming the first problem of one standard facet (the step-by-step path: rejected events)."""
    ref = facet_schema_ref(facet.get("_schemaURL")) if isinstance(facet, Mapping) else None
    if ref is None:
        return
    fast = _fast(ref)
    if fast is None or not fast(facet):
        import fastjsonschema

        try:
            _compiled(ref)(facet)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidEvent(_path(path, exc), _message(exc)) from None
        if fast is not None and _rs_rejects(ref, facet):
            raise _rs_error(ref, facet, path)


_CONTAINER_DEFS = {"facets": "DatasetFacet", "inputFacets": "InputDatasetFacet", "outputFacets": "OutputDatasetFacet"}


def _explain_container(doc: Any, path: str) -> InvalidEvent | None:
    """A facets object failed its ``anyOf``: find the facet that breaks the base facet rules and name it."""
    target: Any = doc
    for part in path.replace("[", ".").replace("]", "").split(".")[1:]:
        try:
            target = target[int(part)] if isinstance(target, list) else target[part]
        except (KeyError, IndexError, ValueError, TypeError):
            return None
    if not isinstance(target, Mapping):
        return InvalidEvent(path, f"must be an object, got {_json_type(target)}")
    last = path.rsplit(".", 1)[-1]
    parent = path.rsplit(".", 2)[-2] if path.count(".") >= 2 else ""
    def_name = {"run": "RunFacet", "job": "JobFacet"}.get(parent, _CONTAINER_DEFS.get(last, "DatasetFacet"))
    import fastjsonschema

    for key, facet in target.items():
        try:
            _compiled(f"{CORE_ID}#/$defs/{def_name}")(facet)
        except fastjsonschema.JsonSchemaValueException as exc:
            return InvalidEvent(_path(f"{path}.{key}", exc), _message(exc))
    return None


def validate_event(doc: Any) -> EventKind:
    """Raise InvalidEvent naming the first problem; return the event kind when the event is valid."""
    kind = event_kind(doc)
    whole = accepts(kind.value)
    if whole is not None and whole(doc):
        return kind
    # Rejected (or jsonschema-rs missing): the checks one by one, which name the problem.
    ref = f"{CORE_ID}#/$defs/{kind.value}"
    fast = _fast(ref)
    if fast is None or not fast(doc):
        import fastjsonschema

        try:
            _compiled(ref)(doc)
        except fastjsonschema.JsonSchemaValueException as exc:
            path = _path("$", exc)
            if exc.rule == "anyOf" and path.endswith(("facets", "Facets")):
                better = _explain_container(doc, path)
                if better is not None:
                    raise better from None
            raise InvalidEvent(path, _message(exc)) from None
        if fast is not None and _rs_rejects(ref, doc):
            raise _rs_error(ref, doc, "$")
    for path, facets in _facet_locations(doc, kind):
        for key, facet in facets.items():
            validate_facet(f"{path}.{key}", facet)
    return kind
