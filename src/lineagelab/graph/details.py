"""What the viewer's details panel and ``lineagelab show`` say about one node: schema, versions, runs, symlinks."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

import duckdb
import orjson

from lineagelab.events import naming
from lineagelab.graph.resolve import Node
from lineagelab.store import queries
from lineagelab.store import queries_details as q
from lineagelab.store.queries import NodeKind, Record
from lineagelab.store.queries_details import DatasetRun, DatasetVersion, JobRun, JobVersion, SchemaField, Symlink

__all__ = ["DatasetDetails", "DatasetRun", "DatasetVersion", "JobDetails", "JobRun", "JobVersion", "SchemaField",
           "SearchHit", "Symlink", "as_dict", "dataset_details", "datasets_details", "job_details", "jobs_details",
           "run_events", "search"]

DATASET_RUNS = 100  # the newest runs a dataset's details list
JOB_RUNS = 200


@dataclass(frozen=True, slots=True)
class DatasetDetails(Record):
    kind: Literal["dataset"] = dataclasses.field(default="dataset", init=False)
    key: str
    namespace: str
    name: str
    datazone_source_identifier: str
    schema: list[SchemaField]
    symlinks: list[Symlink]
    versions: list[DatasetVersion]
    runs: list[DatasetRun]
    facets: dict[str, Any]  # OpenLineage facets: JSON as the event gave it


@dataclass(frozen=True, slots=True)
class JobDetails(Record):
    kind: Literal["job"] = dataclasses.field(default="job", init=False)
    key: str
    namespace: str
    name: str
    datazone_source_identifier: str
    versions: list[JobVersion]
    runs: list[JobRun]
    facets: dict[str, Any] = dataclasses.field(default_factory=dict)  # the newest job facets (RunEvent or JobEvent)


def as_dict(details: DatasetDetails | JobDetails) -> dict[str, Any]:
    """As the JSON answers show it (values as they are: datetimes stay datetimes)."""
    return dataclasses.asdict(details)


def dataset_details(con: duckdb.DuckDBPyConnection, node: Node) -> DatasetDetails:
    return datasets_details(con, [node])[node.id]


def datasets_details(con: duckdb.DuckDBPyConnection, nodes: list[Node]) -> dict[int, DatasetDetails]:
    """Details of many datasets in a fixed number of queries (an export asks for thousands). Ties in the orderings
    are broken the same way whatever else is asked with them."""
    ids = [n.id for n in nodes]
    members = q.members(con, ids)
    versions = q.dataset_versions(con, members)
    latest = {i: next((v.schema_hash for v in reversed(versions.get(i, [])) if v.schema_hash), None) for i in ids}
    fields = q.schema_fields(con, sorted({h for h in latest.values() if h}))
    symlinks = q.dataset_symlinks(con, members)
    runs = q.dataset_runs(con, members, DATASET_RUNS)
    facets = _latest_facets(con, members)
    out: dict[int, DatasetDetails] = {}
    for node in nodes:
        links = symlinks.get(node.id, [])
        glue = any(s.namespace.startswith("arn:aws:glue:") for s in links)
        source_id = naming.dataset_source_identifier(
            node.namespace, node.name, {"symlinks": {"identifiers": [dataclasses.asdict(s) for s in links]}},
            glue_run=glue)
        schema_hash = latest[node.id]
        out[node.id] = DatasetDetails(
            node.key, node.namespace, node.name, source_id, fields.get(schema_hash, []) if schema_hash else [],
            links, versions.get(node.id, []), runs.get(node.id, []), facets.get(node.id, {}))
    return out


def _latest_facets(con: duckdb.DuckDBPyConnection, members: q.Members) -> dict[int, dict[str, Any]]:
    """Each node's facets as the newest event naming it gave them (but column lineage: the graph shows that)."""
    out: dict[int, dict[str, Any]] = {}
    for node, raw, namespace, name in q.latest_dataset_events(con, members):
        doc = orjson.loads(raw)
        for ds in [*(doc.get("inputs") or []), *(doc.get("outputs") or []), doc.get("dataset") or {}]:
            if ds.get("namespace") == namespace and ds.get("name") == name:
                out[node] = {k: v for k, v in (ds.get("facets") or {}).items() if k != "columnLineage"}
                break
    return out


def job_details(con: duckdb.DuckDBPyConnection, node: Node) -> JobDetails:
    return jobs_details(con, [node])[node.id]


def jobs_details(con: duckdb.DuckDBPyConnection, nodes: list[Node]) -> dict[int, JobDetails]:
    """Details of many jobs in two queries (see ``datasets_details``)."""
    ids = [n.id for n in nodes]
    runs = q.job_runs(con, ids, JOB_RUNS)
    versions = q.job_versions(con, ids)
    facets = {node: orjson.loads(text) for node, text in q.latest_job_facets(con, ids)}
    return {n.id: JobDetails(n.key, n.namespace, n.name, naming.job_source_identifier(n.namespace, n.name),
                             versions.get(n.id, []), runs.get(n.id, []), facets.get(n.id, {})) for n in nodes}


def run_events(con: duckdb.DuckDBPyConnection, run_id: str) -> list[Any]:
    """A run's events (JSON documents), oldest first."""
    return [orjson.loads(raw) for raw in queries.raw_events_of_run(con, run_id)]


@dataclass(frozen=True, slots=True)
class SearchHit(Record):
    """``id`` as text (63-bit ids lose digits as JavaScript numbers), ``key`` as ``dataset_key`` / ``job_key``
    spell it."""

    kind: NodeKind
    id: str
    namespace: str
    name: str
    key: str


def search(con: duckdb.DuckDBPyConnection, text: str, limit: int = 50) -> list[SearchHit]:
    """Datasets and jobs whose identity contains ``text``, shortest first."""
    return [SearchHit(*r) for r in queries.search_nodes(con, text, limit)]
