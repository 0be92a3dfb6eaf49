"""Storing the column lineage a batch carries: each distinct ``columnLineage`` facet's edges once, by content hash,
and which output of which event carried it (``ingest/column_lineage.py`` expands the facets)."""

from __future__ import annotations

from contextlib import suppress

import duckdb
import pyarrow as pa


def insert(con: duckdb.DuckDBPyConnection, facets: pa.Table, edge_table: pa.Table | None, uses: pa.Table) -> None:
    """Store the facets of a batch not stored yet (``facets``: fid, lineage_hash; their edges in ``edge_table``) and
    which output of which event carried which (``uses``: event_id, run_key, job_id, event_time, event_type, out_ds,
    fid). A merged batch may number the same facet twice: one of its numbers gives its edges."""
    con.register("_cl_facets", facets)
    con.register("_cl_uses", uses)
    try:
        con.execute("""CREATE OR REPLACE TEMP TABLE _cl_new AS
                       SELECT lineage_hash, min(fid) AS fid FROM _cl_facets
                       WHERE lineage_hash NOT IN (SELECT lineage_hash FROM lineage_facets) GROUP BY lineage_hash""")
        con.execute("INSERT INTO lineage_facets SELECT lineage_hash FROM _cl_new")
        if edge_table is not None:
            con.register("_cl_edges", edge_table)
            try:
                con.execute(
                    """INSERT INTO lineage_edges
                       SELECT n.lineage_hash, e.out_field, e.in_ds, e.in_field, e.type, e.subtype, e.description,
                              e.masking
                       FROM _cl_edges e JOIN _cl_new n USING (fid)"""
                )
            finally:
                con.unregister("_cl_edges")
        con.execute(
            """INSERT INTO f_lineage_uses
               SELECT u.event_id, u.run_key, u.job_id, u.event_time, u.out_ds, f.lineage_hash
               FROM _cl_uses u JOIN _cl_facets f USING (fid)"""
        )
    finally:
        with suppress(duckdb.Error):  # an aborted transaction refuses even this; its error is the one to see
            con.unregister("_cl_facets")
            con.unregister("_cl_uses")
