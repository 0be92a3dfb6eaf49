"""Expand ``columnLineage`` facets into column edges.

Each distinct facet of a batch is expanded once, in Python, from the document already parsed (``edges``): START and
COMPLETE of a run, and the runs of a job, repeat the same facet. DuckDB then joins the edges to every output of
every event that carried the facet (``insert``). Parsing each facet again in DuckDB (``json_transform`` into a
typed struct, as before) cost the single writer ~30 us an event on 20,000 events with 148,000 edges; here the
expansion runs in the parallel workers, and datasets named only in lineage are found per event (``derive``) rather
than by an anti-join over the whole fact table, which grew with the store.

One edge per (output field, input field, transformation). Dataset-wide dependencies (the facet's ``dataset`` list)
get a NULL output field. Producers older than the ``transformations`` array (OpenLineage < 1.16) put a
``transformationType`` on the output field: it becomes DIRECT/<type>. Malformed parts of a facet yield no edges
instead of an error: a custom facet that reuses the key must not break ingest. Scalars where text is expected are
read as their JSON text (a numeric namespace ``5`` is ``"5"``), as DuckDB's lenient JSON casts did before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from lineagelab.events.identity import stable_id

if TYPE_CHECKING:  # worker processes never write: importing DuckDB would cost each ~40 ms
    import duckdb

#: (fid, out_field, in_ds, in_field, type, subtype, description, masking): one row of the ``edges`` table
Edge = tuple[int, str | None, int, str | None, str | None, str | None, str | None, bool]
#: (ds_id, namespace, name) of a dataset a facet names as an input
Named = tuple[int, str, str]

EDGE_LAYOUT: list[tuple[str, pa.DataType]] = [
    ("fid", pa.int32()), ("out_field", pa.string()), ("in_ds", pa.int64()), ("in_field", pa.string()),
    ("type", pa.string()), ("subtype", pa.string()), ("description", pa.string()), ("masking", pa.bool_()),
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


def edges(fid: int, facet: dict[str, Any], out: list[Edge], named: dict[int, Named]) -> None:
    """Append the edges of one facet (numbered ``fid``) to ``out``; record the input datasets it names."""
    fields = facet.get("fields")
    pairs: list[tuple[str | None, Any, Any, Any]] = []  # (output field, input, legacy type, legacy description)
    if isinstance(fields, dict):
        for out_field, spec in fields.items():
            if isinstance(spec, dict) and isinstance(inputs := spec.get("inputFields"), list):
                legacy, legacy_desc = spec.get("transformationType"), spec.get("transformationDescription")
                pairs.extend((out_field, inp, legacy, legacy_desc) for inp in inputs)
    dataset = facet.get("dataset")
    if isinstance(dataset, list):
        pairs.extend((None, inp, None, None) for inp in dataset)
    for out_field, inp, legacy, legacy_desc in pairs:
        if not isinstance(inp, dict):
            continue
        namespace, name = _text(inp.get("namespace")), _text(inp.get("name"))
        if namespace is None or name is None:
            continue
        in_ds = stable_id(namespace, name)
        named[in_ds] = (in_ds, namespace, name)
        in_field = _text(inp.get("field"))
        steps = inp.get("transformations")
        for t in steps if isinstance(steps, list) and steps else (None,):
            if isinstance(t, dict):
                out.append((fid, out_field, in_ds, in_field, _text(t.get("type")), _text(t.get("subtype")),
                            _nonempty(t.get("description")), _masking(t.get("masking"))))
            elif legacy_type := _text(legacy):
                out.append((fid, out_field, in_ds, in_field, "DIRECT", legacy_type.upper(), _nonempty(legacy_desc),
                            False))
            else:
                out.append((fid, out_field, in_ds, in_field, None, None, _nonempty(legacy_desc), False))


def insert(con: duckdb.DuckDBPyConnection, edge_table: pa.Table, uses: pa.Table) -> None:
    """Store the column edges of distinct facets (``edge_table``) for every output that carried them (``uses``:
    event_id, run_key, job_id, event_time, event_type, out_ds, fid)."""
    con.register("_cl_edges", edge_table)
    con.register("_cl_uses", uses)
    try:
        con.execute(
            """INSERT INTO f_column_edges
               SELECT u.event_id, u.run_key, u.job_id, u.event_time, u.out_ds, e.out_field, e.in_ds, e.in_field,
                      e.type, e.subtype, e.description, e.masking
               FROM _cl_uses u JOIN _cl_edges e USING (fid)"""
        )
    finally:
        con.unregister("_cl_edges")
        con.unregister("_cl_uses")
