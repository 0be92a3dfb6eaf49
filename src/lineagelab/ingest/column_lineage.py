"""Expand ``columnLineage`` facets into column edges.

Each distinct facet of a batch is expanded once, in the worker processes (``expand``): START and COMPLETE of a run,
and the runs of a job, repeat the same facet. The store keeps each distinct facet's edges once, by content hash, and
which output of which event carried it (``store/column_edges.py``).

One edge per (output field, input field, transformation). Dataset-wide dependencies (the facet's ``dataset`` list)
get a NULL output field. Producers older than the ``transformations`` array (OpenLineage < 1.16) put a
``transformationType`` on the output field: it becomes DIRECT/<type>. Malformed parts of a facet yield no edges
instead of an error: a custom facet that reuses the key must not break ingest. Scalars where text is expected are
read as their JSON text (a numeric namespace ``5`` is ``"5"``), as DuckDB's lenient JSON casts did before.
"""

from __future__ import annotations

from typing import Any

import orjson

from lineagelab.events.identity import stable_id

#: (fid, out_field, in_ds, in_field, type, subtype, description, masking): one row of the ``edges`` table
Edge = tuple[int, str | None, int, str | None, str | None, str | None, str | None, bool]
#: (ds_id, namespace, name) of a dataset a facet names as an input
Named = tuple[int, str, str]

EDGE_LAYOUT: list[tuple[str, str]] = [  # (name, type code: see prepare.Columns)
    ("fid", "i"), ("out_field", "s"), ("in_ds", "q"), ("in_field", "s"), ("type", "s"), ("subtype", "s"),
    ("description", "s"), ("masking", "?"),
]


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits
        return str(value)


def _masking(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value)
    return text is not None and text.lower() in ("true", "t", "1", "yes", "y")  # DuckDB's boolean cast


def _nonempty(value: Any) -> str | None:
    text = _text(value)
    return text if text else None


def expand(facet: dict[str, Any]) -> tuple[tuple[tuple[Any, ...], ...], list[Named]]:
    """The edges of one facet as columns (an ``Edge`` less its first item, the facet's number: given per batch), and
    the input datasets it names. Columns, because a batch's edge table is the concatenation of its facets' edges.
    Text values are taken as they are; only other values go through ``_text``."""
    fields = facet.get("fields")
    # (output field, its inputs, legacy type, legacy description): the inputs' list as it is, not a tuple per input
    groups: list[tuple[str | None, list[Any], Any, Any]] = []
    if isinstance(fields, dict):
        for out_field, spec in fields.items():
            if isinstance(spec, dict) and isinstance(inputs := spec.get("inputFields"), list):
                legacy, legacy_desc = spec.get("transformationType"), spec.get("transformationDescription")
                groups.append((out_field, inputs, legacy, legacy_desc))
    dataset = facet.get("dataset")
    if isinstance(dataset, list):
        groups.append((None, dataset, None, None))
    out: list[tuple[Any, ...]] = []
    append = out.append
    named: dict[int, Named] = {}
    for out_field, inputs, legacy, legacy_desc in groups:
        for inp in inputs:
            if not isinstance(inp, dict):
                continue
            get = inp.get
            namespace, name, in_field, steps = get("namespace"), get("name"), get("field"), get("transformations")
            if type(namespace) is not str:
                namespace = _text(namespace)
            if type(name) is not str:
                name = _text(name)
            if namespace is None or name is None:
                continue
            in_ds = stable_id(namespace, name)
            if in_ds not in named:
                named[in_ds] = (in_ds, namespace, name)
            if in_field is not None and type(in_field) is not str:
                in_field = _text(in_field)
            if not (isinstance(steps, list) and steps):
                steps = (None,)
            for t in steps:
                if isinstance(t, dict):
                    get = t.get
                    kind, sub, desc, mask = get("type"), get("subtype"), get("description"), get("masking")
                    append((out_field, in_ds, in_field,
                            kind if kind is None or type(kind) is str else _text(kind),
                            sub if sub is None or type(sub) is str else _text(sub),
                            None if desc is None else (desc or None) if type(desc) is str else _nonempty(desc),
                            False if mask is None else mask if mask is True or mask is False else _masking(mask)))
                elif legacy_type := _text(legacy):
                    append((out_field, in_ds, in_field, "DIRECT", legacy_type.upper(), _nonempty(legacy_desc), False))
                else:
                    append((out_field, in_ds, in_field, None, None, _nonempty(legacy_desc), False))
    return (tuple(zip(*out, strict=True)) if out else ((),) * (len(EDGE_LAYOUT) - 1)), list(named.values())
