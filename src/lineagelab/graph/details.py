"""What the viewer's details panel and ``lineagelab show`` say about one node: schema, versions, runs, symlinks."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from lineagelab.events import naming
from lineagelab.graph.resolve import Node


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def dataset_details(con: duckdb.DuckDBPyConnection, node: Node) -> dict[str, Any]:
    members = [node.id] + [r[0] for r in con.execute(
        "SELECT member_id FROM aliases WHERE canonical_id = ?", [node.id]).fetchall()]
    versions = _rows(con, """
        SELECT v.version_id, v.created_at, v.reason, v.run_key AS run_id, v.row_count, v.schema_hash
        FROM dataset_versions v WHERE v.ds_id IN (SELECT unnest($1::BIGINT[])) ORDER BY created_at""", [members])
    schema_hash = next((v["schema_hash"] for v in reversed(versions) if v["schema_hash"]), None)
    fields = _rows(con, "SELECT name, type, description FROM schema_fields WHERE schema_hash = ? ORDER BY ordinal",
                   [schema_hash]) if schema_hash else []
    symlinks = _rows(con, """SELECT DISTINCT alias_namespace AS namespace, alias_name AS name, type FROM f_symlinks
                              WHERE ds_id IN (SELECT unnest($1::BIGINT[])) ORDER BY 1, 2""", [members])
    runs = _rows(con, """
        SELECT r.run_key AS run_id, j.namespace || '.' || j.name AS job, io.role, r.state, r.started_at, r.ended_at,
               r.duration_ms FROM run_io io JOIN runs r USING (run_key) LEFT JOIN jobs j ON j.job_id = r.job_id
        WHERE io.ds_id IN (SELECT unnest($1::BIGINT[])) ORDER BY r.started_at DESC LIMIT 100""", [members])
    facets = _latest_facets(con, members)
    glue = any(s["namespace"].startswith("arn:aws:glue:") for s in symlinks)
    source_id = naming.dataset_source_identifier(node.namespace, node.name, {"symlinks": {"identifiers": symlinks}},
                                                 glue_run=glue)
    return {"kind": "dataset", "key": node.key, "namespace": node.namespace, "name": node.name,
            "datazone_source_identifier": source_id, "schema": fields, "symlinks": symlinks, "versions": versions,
            "runs": runs, "facets": facets}


def _latest_facets(con: duckdb.DuckDBPyConnection, members: list[int]) -> dict[str, Any]:
    row = con.execute("""
        SELECT r.raw, d.namespace, d.name FROM f_datasets d JOIN raw_events r USING (event_id)
        WHERE d.ds_id IN (SELECT unnest($1::BIGINT[])) AND d.role <> 'ref'
        ORDER BY d.event_time DESC LIMIT 1""", [members]).fetchall()
    if not row:
        return {}
    doc = orjson.loads(row[0][0])
    for ds in [*(doc.get("inputs") or []), *(doc.get("outputs") or []), doc.get("dataset") or {}]:
        if ds.get("namespace") == row[0][1] and ds.get("name") == row[0][2]:
            return {k: v for k, v in (ds.get("facets") or {}).items() if k != "columnLineage"}
    return {}


def job_details(con: duckdb.DuckDBPyConnection, node: Node) -> dict[str, Any]:
    runs = _rows(con, """
        SELECT run_key AS run_id, state, started_at, ended_at, duration_ms, parent_run_id, error_message, io_hash
        FROM runs WHERE job_id = ? ORDER BY started_at DESC LIMIT 200""", [node.id])
    versions = _rows(con, "SELECT io_hash AS version, first_seen, last_seen, run_count FROM job_versions "
                          "WHERE job_id = ? ORDER BY first_seen", [node.id])
    return {"kind": "job", "key": node.key, "namespace": node.namespace, "name": node.name,
            "datazone_source_identifier": naming.job_source_identifier(node.namespace, node.name),
            "versions": versions, "runs": runs}


def run_events(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Any]:
    return [orjson.loads(r[0]) for r in con.execute(
        "SELECT raw FROM raw_events WHERE run_id = ? ORDER BY event_time, seq", [run_id]).fetchall()]


def search(con: duckdb.DuckDBPyConnection, text: str, limit: int = 50) -> list[dict[str, Any]]:
    return _rows(con, """
        SELECT * FROM (
            SELECT 'dataset' AS kind, namespace, name, namespace || '/' || name AS key FROM datasets
            WHERE contains(lower(namespace || '/' || name), lower($1))
            UNION ALL
            SELECT 'job', namespace, name, namespace || '.' || name FROM jobs
            WHERE contains(lower(namespace || '.' || name), lower($1))
        ) ORDER BY length(key), key LIMIT $2""", [text, limit])
