"""A DataZone domain's lineage graph, built from the RunEvents posted to it — pure functions over event documents.

Nodes are datasets, jobs and job runs, identified by DataZone's sourceIdentifier rules (``events.naming``). Edges:
input dataset -> job run -> output dataset, and job -> job run. Each node keeps the event times it was seen at,
which is what GetLineageNode's ``timestamp`` and ListLineageNodeHistory page through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import networkx as nx
import orjson

from lineagelab.events import leniency, naming
from lineagelab.events.identity import parse_time

DATASET = "amazon.datazone.DatasetLineageNodeType"
JOB = "amazon.datazone.JobLineageNodeType"
JOB_RUN = "amazon.datazone.JobRunLineageNodeType"


def node_id(domain: str, source_identifier: str) -> str:
    """A stable node id in DataZone's pattern ``[a-zA-Z0-9_-]{1,36}``."""
    digest = hashlib.sha256(f"{domain}\x1f{source_identifier}".encode()).hexdigest()
    return digest[:24]


@dataclass
class DzNode:
    id: str
    source_identifier: str
    type_name: str
    name: str
    # event time -> (upstream ids, downstream ids) as that event described them
    versions: dict[datetime, tuple[set[str], set[str]]] = field(default_factory=dict)
    event_ids: set[str] = field(default_factory=set)
    # event time -> the dataset's asset form (formName, typeName, content) as that event's schema facet gave it
    forms: dict[datetime, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)

    def times(self) -> list[datetime]:
        return sorted(self.versions)

    def forms_output(self, at: datetime | None = None) -> list[dict[str, str]]:
        """GetLineageNode's ``formsOutput``: the asset form (with its columns) of the latest event at or before
        ``at`` that gave the dataset a schema; none for jobs, runs and datasets without one."""
        times = [t for t in self.forms if at is None or t <= at]
        if not times:
            return []
        name, type_name, content = self.forms[max(times)]
        return [{"formName": name, "typeName": type_name, "typeRevision": "1",
                 "content": orjson.dumps(content).decode()}]


def asset_form(ds: dict[str, Any], source_identifier: str) -> tuple[str, str, dict[str, Any]] | None:
    """The asset form DataZone keeps for a dataset node, from its schema facet: Glue and Redshift tables as their
    catalogs name them (database, schema, table), anything else as a relational table named by its dataset name."""
    fields = ((ds.get("facets") or {}).get("schema") or {}).get("fields")
    if not isinstance(fields, list):
        return None
    columns = [{"columnName": str(f.get("name")), "dataType": str(f.get("type") or "")}
               for f in fields if isinstance(f, dict) and f.get("name")]
    parts = source_identifier.split(":", 5)[-1].split("/") if source_identifier.startswith("arn:aws:") else []
    if source_identifier.startswith("arn:aws:glue:") and len(parts) == 3:  # table/db/table
        return ("GlueTableForm", "amazon.datazone.GlueTableFormType",
                {"databaseName": parts[1], "tableName": parts[2], "columns": columns})
    if source_identifier.startswith("arn:aws:redshift") and len(parts) == 5:  # table/workgroup/db/schema/table
        return ("RedshiftTableForm", "amazon.datazone.RedshiftTableFormType",
                {"databaseName": parts[2], "schemaName": parts[3], "tableName": parts[4], "columns": columns})
    return ("RelationalTableForm", "amazon.datazone.RelationalTableFormType",
            {"tableName": str(ds.get("name")), "columns": columns})


@dataclass
class DzGraph:
    domain: str
    nodes: dict[str, DzNode] = field(default_factory=dict)
    by_source: dict[str, str] = field(default_factory=dict)
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)

    def node(self, source_identifier: str, type_name: str, name: str) -> DzNode:
        nid = node_id(self.domain, source_identifier)
        if nid not in self.nodes:
            self.nodes[nid] = DzNode(nid, source_identifier, type_name, name)
            self.by_source[source_identifier] = nid
            self.graph.add_node(nid)
        return self.nodes[nid]

    def find(self, identifier: str) -> DzNode | None:
        if identifier in self.nodes:
            return self.nodes[identifier]
        nid = self.by_source.get(identifier)
        return self.nodes[nid] if nid else None

    def upstream(self, nid: str, at: datetime | None = None) -> list[tuple[str, datetime]]:
        return self._neighbours(nid, at, upstream=True)

    def downstream(self, nid: str, at: datetime | None = None) -> list[tuple[str, datetime]]:
        return self._neighbours(nid, at, upstream=False)

    def _neighbours(self, nid: str, at: datetime | None, upstream: bool) -> list[tuple[str, datetime]]:
        edges = self.graph.in_edges(nid, data=True) if upstream else self.graph.out_edges(nid, data=True)
        out = []
        for a, b, data in edges:
            times = [t for t in data["times"] if at is None or t <= at]
            if times:
                out.append((a if upstream else b, max(times)))
        return sorted(out, key=lambda x: (x[1], x[0]))

    def add_edge(self, a: DzNode, b: DzNode, t: datetime) -> None:
        if self.graph.has_edge(a.id, b.id):
            self.graph.edges[a.id, b.id]["times"].add(t)
        else:
            self.graph.add_edge(a.id, b.id, times={t})
        a.versions.setdefault(t, (set(), set()))[1].add(b.id)
        b.versions.setdefault(t, (set(), set()))[0].add(a.id)


def build(domain: str, events: Iterable[tuple[str, str]]) -> DzGraph:
    """Fold the domain's processed RunEvents (id, body) into its graph."""
    g = DzGraph(domain)
    for event_id, body in events:
        doc: dict[str, Any] = orjson.loads(body)
        if "run" not in doc or "job" not in doc:  # a dataset or job event (accepted liberally): no run to show
            continue
        t = parse_time(doc["eventTime"])
        job, run = doc["job"], doc["run"]
        run_facets = leniency.facets(run)
        glue = naming.has_glue_environment(run_facets)
        job_node = g.node(naming.job_source_identifier(job["namespace"], job["name"]), JOB, job["name"])
        run_node = g.node(naming.job_run_source_identifier(job["namespace"], job["name"], run["runId"]), JOB_RUN,
                          f"{job['name']}/{run['runId']}")
        for n in (job_node, run_node):
            n.versions.setdefault(t, (set(), set()))
            n.event_ids.add(event_id)
        g.add_edge(job_node, run_node, t)
        for side in ("inputs", "outputs"):
            for ds in leniency.named_datasets(doc.get(side)):
                sid = naming.dataset_source_identifier(ds["namespace"], ds["name"], leniency.facets(ds),
                                                       glue_run=glue)
                ds_node = g.node(sid, DATASET, ds["name"])
                ds_node.versions.setdefault(t, (set(), set()))
                form = asset_form(ds, sid)
                if form is not None:
                    ds_node.forms[t] = form
                ds_node.event_ids.add(event_id)
                if side == "inputs":
                    g.add_edge(ds_node, run_node, t)
                else:
                    g.add_edge(run_node, ds_node, t)
    return g


def reachable(g: DzGraph, start: str, downstream: bool, max_length: int) -> list[str]:
    graph = g.graph if downstream else g.graph.reverse(copy=False)
    lengths = nx.single_source_shortest_path_length(graph, start, cutoff=max_length)
    return [n for n, d in sorted(lengths.items(), key=lambda x: (x[1], x[0]))]
