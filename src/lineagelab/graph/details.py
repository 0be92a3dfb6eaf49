"""What the viewer's details panel and ``lineagelab show`` say about one node: schema, versions, runs, symlinks."""

from __future__ import annotations

from typing import Any

import duckdb
import orjson

from lineagelab.events import naming
from lineagelab.events.identity import dataset_key_sql
from lineagelab.graph.resolve import Node


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _by_node(rows: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Rows carrying a ``node`` column, grouped by it (the column dropped)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.pop("node"), []).append(r)
    return out


#: The members of each dataset asked about (itself and the identities it is known under): (node, ds_id) rows.
_MEMBERS = """(SELECT unnest($1::BIGINT[]) AS node, unnest($2::BIGINT[]) AS ds_id)"""


def dataset_details(con: duckdb.DuckDBPyConnection, node: Node) -> dict[str, Any]:
    return datasets_details(con, [node])[node.id]


def datasets_details(con: duckdb.DuckDBPyConnection, nodes: list[Node]) -> dict[int, dict[str, Any]]:
    """Details of many datasets in a fixed number of queries (an export asks for thousands: with a few queries
    each, a node took ~6 ms). Ties in the orderings are broken the same way whatever else is asked with them."""
    ids = [n.id for n in nodes]
    pairs = list(dict.fromkeys([(i, i) for i in ids] + [(int(c), int(m)) for c, m in con.execute(
        "SELECT canonical_id, member_id FROM aliases WHERE canonical_id IN (SELECT unnest($1::BIGINT[]))",
        [ids]).fetchall()]))  # once each: a pair listed twice would repeat its rows
    members = [[p[0] for p in pairs], [p[1] for p in pairs]]
    versions = _by_node(_rows(con, f"""
        SELECT m.node, v.version_id, v.created_at, v.reason, v.run_key AS run_id, v.row_count, v.schema_hash
        FROM dataset_versions v JOIN {_MEMBERS} m USING (ds_id) ORDER BY m.node, v.created_at, v.version_id""",
                              members))
    latest = {i: next((v["schema_hash"] for v in reversed(versions.get(i, [])) if v["schema_hash"]), None)
              for i in ids}
    fields: dict[str, list[dict[str, Any]]] = {}
    for r in _rows(con, """SELECT schema_hash, name, type, description FROM schema_fields
                           WHERE schema_hash IN (SELECT unnest($1::VARCHAR[])) ORDER BY schema_hash, ordinal""",
                   [sorted({h for h in latest.values() if h})]):
        fields.setdefault(r.pop("schema_hash"), []).append(r)
    symlinks = _by_node(_rows(con, f"""
        SELECT DISTINCT m.node, s.alias_namespace AS namespace, s.alias_name AS name, s.type
        FROM f_symlinks s JOIN {_MEMBERS} m USING (ds_id) ORDER BY ALL""", members))
    runs = _by_node(_rows(con, f"""
        SELECT * EXCLUDE (n) FROM (
            SELECT m.node, r.run_key AS run_id, j.namespace || '.' || j.name AS job, io.role, r.state, r.started_at,
                   r.ended_at, r.duration_ms,
                   row_number() OVER (PARTITION BY m.node ORDER BY r.started_at DESC, r.run_key, io.role) AS n
            FROM run_io io JOIN {_MEMBERS} m USING (ds_id) JOIN runs r USING (run_key)
            LEFT JOIN jobs j ON j.job_id = r.job_id)
        WHERE n <= 100 ORDER BY node, n""", members))
    facets = _latest_facets(con, members)
    out: dict[int, dict[str, Any]] = {}
    for node in nodes:
        links = symlinks.get(node.id, [])
        glue = any(s["namespace"].startswith("arn:aws:glue:") for s in links)
        source_id = naming.dataset_source_identifier(node.namespace, node.name, {"symlinks": {"identifiers": links}},
                                                     glue_run=glue)
        schema_hash = latest[node.id]
        out[node.id] = {
            "kind": "dataset", "key": node.key, "namespace": node.namespace, "name": node.name,
            "datazone_source_identifier": source_id, "schema": fields.get(schema_hash, []) if schema_hash else [],
            "symlinks": links, "versions": versions.get(node.id, []), "runs": runs.get(node.id, []),
            "facets": facets.get(node.id, {})}
    return out


def _latest_facets(con: duckdb.DuckDBPyConnection, members: list[list[int]]) -> dict[int, dict[str, Any]]:
    """Each node's facets as the newest event naming it gave them (but column lineage: the graph shows that)."""
    out: dict[int, dict[str, Any]] = {}
    for node, raw, namespace, name in con.execute(f"""
            SELECT x.node, r.raw, x.namespace, x.name FROM (
                SELECT m.node, d.event_id, d.namespace, d.name,
                       row_number() OVER (PARTITION BY m.node ORDER BY d.event_time DESC, d.event_id) AS n
                FROM f_datasets d JOIN {_MEMBERS} m USING (ds_id) WHERE d.role <> 'ref') x
            JOIN raw_events r USING (event_id) WHERE x.n = 1""", members).fetchall():
        doc = orjson.loads(raw)
        for ds in [*(doc.get("inputs") or []), *(doc.get("outputs") or []), doc.get("dataset") or {}]:
            if ds.get("namespace") == namespace and ds.get("name") == name:
                out[node] = {k: v for k, v in (ds.get("facets") or {}).items() if k != "columnLineage"}
                break
    return out


def job_details(con: duckdb.DuckDBPyConnection, node: Node) -> dict[str, Any]:
    return jobs_details(con, [node])[node.id]


def jobs_details(con: duckdb.DuckDBPyConnection, nodes: list[Node]) -> dict[int, dict[str, Any]]:
    """Details of many jobs in two queries (see ``datasets_details``)."""
    ids = [n.id for n in nodes]
    runs = _by_node(_rows(con, """
        SELECT * EXCLUDE (n) FROM (
            SELECT job_id AS node, run_key AS run_id, state, started_at, ended_at, duration_ms, parent_run_id,
                   error_message, io_hash,
                   row_number() OVER (PARTITION BY job_id ORDER BY started_at DESC, run_key) AS n
            FROM runs WHERE job_id IN (SELECT unnest($1::BIGINT[])))
        WHERE n <= 200 ORDER BY node, n""", [ids]))
    versions = _by_node(_rows(con, """
        SELECT job_id AS node, io_hash AS version, first_seen, last_seen, run_count FROM job_versions
        WHERE job_id IN (SELECT unnest($1::BIGINT[])) ORDER BY job_id, first_seen, io_hash""", [ids]))
    return {n.id: {"kind": "job", "key": n.key, "namespace": n.namespace, "name": n.name,
                   "datazone_source_identifier": naming.job_source_identifier(n.namespace, n.name),
                   "versions": versions.get(n.id, []), "runs": runs.get(n.id, [])} for n in nodes}


def run_events(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Any]:
    return [orjson.loads(r[0]) for r in con.execute(
        "SELECT raw FROM raw_events WHERE run_id = ? ORDER BY event_time, seq", [run_id]).fetchall()]


def search(con: duckdb.DuckDBPyConnection, text: str, limit: int = 50) -> list[dict[str, Any]]:
    """Datasets and jobs whose identity contains ``text``, shortest first; ``id`` as text (63-bit ids lose digits
    as JavaScript numbers), ``key`` as ``dataset_key`` / ``job_key`` spell it."""
    return _rows(con, f"""
        SELECT * FROM (
            SELECT 'dataset' AS kind, ds_id::VARCHAR AS id, namespace, name,
                   {dataset_key_sql("namespace", "name")} AS key
            FROM datasets
            WHERE contains(lower(namespace || '/' || name), lower($1))
            UNION ALL
            SELECT 'job', job_id::VARCHAR, namespace, name, namespace || '.' || name FROM jobs
            WHERE contains(lower(namespace || '.' || name), lower($1))
        ) ORDER BY length(key), key LIMIT $2""", [text, limit])
