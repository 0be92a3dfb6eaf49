"""Expand the ``columnLineage`` facets of a batch of events (their raw JSON, held in memory) into
``f_column_edges``, in SQL: DuckDB parses each event once into a typed struct and unnests it.

One row per (output field, input field, transformation). Dataset-wide dependencies (the facet's ``dataset`` list)
get a NULL output field. Producers older than the ``transformations`` array (OpenLineage < 1.16) put a
``transformationType`` on the output field: it becomes DIRECT/<type>. Malformed facets yield no rows instead of an
error (``json_transform`` is lenient): a custom facet that reuses the key must not break ingest.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from lineagelab.events.identity import sql_stable_id

_T = "STRUCT(type VARCHAR, subtype VARCHAR, description VARCHAR, masking VARCHAR)"
_IN = f"STRUCT(namespace VARCHAR, name VARCHAR, field VARCHAR, transformations {_T}[])"
_FIELD = f"STRUCT(inputFields {_IN}[], transformationType VARCHAR, transformationDescription VARCHAR)"
#: The part of an event the expansion reads, as one DuckDB type: the raw JSON is parsed once, straight into it.
_SHAPE = (
    '{"outputs": [{"namespace": "VARCHAR", "name": "VARCHAR", "facets": {"columnLineage": '
    f'{{"fields": "MAP(VARCHAR, {_FIELD})", "dataset": "{_IN}[]"}}}}}}]}}'
)

_EXPAND = f"""
WITH ev AS (
    SELECT event_id, run_key, job_id, event_time, event_type, json_transform(raw, '{_SHAPE}') AS j
    FROM {{ids}}
),
outs AS (SELECT event_id, run_key, job_id, event_time, event_type, unnest(j.outputs) AS o FROM ev),
facets AS (
    SELECT event_id, run_key, job_id, event_time, event_type,
           {sql_stable_id("o.namespace", "o.name")} AS out_ds, o.facets.columnLineage AS f
    FROM outs WHERE o.facets.columnLineage IS NOT NULL
),
per_field AS (
    SELECT event_id, run_key, job_id, event_time, event_type, out_ds, e.key AS out_field,
           e.value.transformationType AS legacy_type, e.value.transformationDescription AS legacy_desc,
           unnest(e.value.inputFields) AS inp
    FROM (SELECT *, unnest(map_entries(f.fields)) AS e FROM facets)
),
whole_row AS (
    SELECT event_id, run_key, job_id, event_time, event_type, out_ds, NULL::VARCHAR AS out_field,
           NULL::VARCHAR AS legacy_type, NULL::VARCHAR AS legacy_desc, unnest(f.dataset) AS inp
    FROM facets
),
expanded AS (
    SELECT *, unnest(CASE WHEN len(inp.transformations) > 0 THEN inp.transformations
                          ELSE [NULL::{_T}] END) AS t
    FROM (SELECT * FROM per_field UNION ALL SELECT * FROM whole_row)
    WHERE inp.namespace IS NOT NULL AND inp.name IS NOT NULL
)
SELECT event_id, run_key, job_id, event_time, event_type, out_ds, out_field,
       {sql_stable_id("inp.namespace", "inp.name")} AS in_ds,
       inp.namespace AS in_namespace, inp.name AS in_name, inp.field AS in_field,
       CASE WHEN t IS NULL AND coalesce(legacy_type, '') <> '' THEN 'DIRECT' ELSE t.type END AS type,
       CASE WHEN t IS NULL AND coalesce(legacy_type, '') <> '' THEN upper(legacy_type) ELSE t.subtype END AS subtype,
       CASE WHEN t IS NULL THEN nullif(legacy_desc, '') ELSE nullif(t.description, '') END AS description,
       coalesce(TRY_CAST(t.masking AS BOOLEAN), false) AS masking
FROM expanded
"""


def expand(con: duckdb.DuckDBPyConnection, events: pa.Table) -> set[int]:
    """Derive column edges of ``events`` (event_id, run_key, job_id, event_time, event_type, raw), held in memory;
    return the ids of the datasets they name."""
    ids_table = "_cl_events"
    con.register(ids_table, events)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cl AS {_EXPAND.replace('{ids}', ids_table)}")
    con.execute(
        """INSERT INTO f_column_edges
           SELECT event_id, run_key, job_id, event_time, out_ds, out_field, in_ds, in_field,
                  type, subtype, description, masking
           FROM _cl"""
    )
    # Datasets named only inside column lineage (not among the event's inputs) still need a name in the model.
    con.execute(
        """
        INSERT INTO f_datasets
        SELECT DISTINCT event_id, run_key, job_id, in_ds, in_namespace, in_name, 'ref', event_time, event_type,
                        NULL, false, NULL, NULL
        FROM _cl c WHERE NOT EXISTS (SELECT 1 FROM f_datasets d WHERE d.event_id = c.event_id AND d.ds_id = c.in_ds)
        """
    )
    con.unregister(ids_table)
    return {r[0] for r in con.execute("SELECT DISTINCT in_ds FROM _cl").fetchall()}
