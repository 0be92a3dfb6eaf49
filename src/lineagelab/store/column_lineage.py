"""Expand ``columnLineage`` facets into ``f_column_edges``, in SQL: DuckDB parses each distinct facet once into a
typed struct and unnests it; the rows are then joined to every output of every event that carried that facet
(START and COMPLETE of a run, and the runs of a job, repeat the same facet).

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
#: The facet, as one DuckDB type: its JSON is parsed once, straight into it.
_SHAPE = f'{{"fields": "MAP(VARCHAR, {_FIELD})", "dataset": "{_IN}[]"}}'

_EXPAND = f"""
WITH f AS (SELECT fid, json_transform(facet, '{_SHAPE}') AS f FROM {{facets}}),
per_field AS (
    SELECT fid, e.key AS out_field, e.value.transformationType AS legacy_type,
           e.value.transformationDescription AS legacy_desc, unnest(e.value.inputFields) AS inp
    FROM (SELECT fid, unnest(map_entries(f.fields)) AS e FROM f)
),
whole_row AS (
    SELECT fid, NULL::VARCHAR AS out_field, NULL::VARCHAR AS legacy_type, NULL::VARCHAR AS legacy_desc,
           unnest(f.dataset) AS inp
    FROM f
),
expanded AS (
    SELECT *, unnest(CASE WHEN len(inp.transformations) > 0 THEN inp.transformations
                          ELSE [NULL::{_T}] END) AS t
    FROM (SELECT * FROM per_field UNION ALL SELECT * FROM whole_row)
    WHERE inp.namespace IS NOT NULL AND inp.name IS NOT NULL
),
edges AS (
    SELECT fid, out_field,
           {sql_stable_id("inp.namespace", "inp.name")} AS in_ds,
           inp.namespace AS in_namespace, inp.name AS in_name, inp.field AS in_field,
           CASE WHEN t IS NULL AND coalesce(legacy_type, '') <> '' THEN 'DIRECT' ELSE t.type END AS type,
           CASE WHEN t IS NULL AND coalesce(legacy_type, '') <> '' THEN upper(legacy_type) ELSE t.subtype END
               AS subtype,
           CASE WHEN t IS NULL THEN nullif(legacy_desc, '') ELSE nullif(t.description, '') END AS description,
           coalesce(TRY_CAST(t.masking AS BOOLEAN), false) AS masking
    FROM expanded
)
SELECT u.event_id, u.run_key, u.job_id, u.event_time, u.event_type, u.out_ds, e.out_field, e.in_ds,
       e.in_namespace, e.in_name, e.in_field, e.type, e.subtype, e.description, e.masking
FROM {{uses}} u JOIN edges e USING (fid)
"""


def expand(con: duckdb.DuckDBPyConnection, facets: pa.Table, uses: pa.Table) -> set[int]:
    """Derive the column edges of distinct ``facets`` (fid, facet JSON) for their ``uses`` (event_id, run_key,
    job_id, event_time, event_type, out_ds, fid); return the ids of the datasets they name."""
    con.register("_cl_facets", facets)
    con.register("_cl_uses", uses)
    query = _EXPAND.replace("{facets}", "_cl_facets").replace("{uses}", "_cl_uses")
    con.execute(f"CREATE OR REPLACE TEMP TABLE _cl AS {query}")
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
    con.unregister("_cl_facets")
    con.unregister("_cl_uses")
    return {r[0] for r in con.execute("SELECT DISTINCT in_ds FROM _cl").fetchall()}
