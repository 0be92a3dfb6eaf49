"""Synthetic lineage at scale: layered pipelines with realistic fan-in/fan-out, column lineage and history.

Datasets sit in layers (raw -> staged -> marts …). Each job reads 1-4 datasets of earlier layers (fan-in) and writes
one or two of the next (popular sources get read by many jobs: fan-out). Every output column comes from 1-3 input
columns by IDENTITY, TRANSFORMATION or AGGREGATION, and join keys are dataset-wide INDIRECT dependencies. Each job runs
``runs_per_job`` times, a day apart; some later runs change the output schema (a column dropped or added), so
versions, as-of queries and diffs have history to work on. Events have the facet shapes openlineage-spark emits, at
about 4 KB each with the default 12 columns.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from lineagelab import PRODUCER

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_F = "https://openlineage.io/spec/facets/"
SCHEMA_FACET = _F + "1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
COLUMN_FACET = _F + "1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet"
SOURCE_FACET = _F + "1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet"
TYPES = ["string", "long", "double", "date", "timestamp", "decimal(18,2)", "boolean", "integer"]


@dataclass(frozen=True)
class Shape:
    jobs: int = 1000
    runs_per_job: int = 2
    columns: int = 12
    layers: int = 8
    seed: int = 7
    namespace: str = "s3://synthetic-lake"
    schema_change_rate: float = 0.1

    @property
    def events(self) -> int:
        return self.jobs * self.runs_per_job * 2


def _facet(url: str, **body: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": url, **body}


class _Plan:
    """The static pipeline: which job reads and writes which datasets, and their columns."""

    def __init__(self, shape: Shape):
        rnd = random.Random(shape.seed)
        self.shape = shape
        per_layer = max(1, shape.jobs // max(1, shape.layers - 1))
        sources = max(4, per_layer)
        self.layers: list[list[str]] = [[f"raw/source_{i:06d}" for i in range(sources)]]
        self.columns: dict[str, list[tuple[str, str]]] = {}
        for name in self.layers[0]:
            self.columns[name] = [(f"c{j:02d}", rnd.choice(TYPES)) for j in range(shape.columns)]
        self.jobs: list[tuple[str, list[str], list[str]]] = []
        for j in range(shape.jobs):
            layer = min(shape.layers - 1, 1 + j // per_layer)
            while len(self.layers) <= layer:
                self.layers.append([])
            pool = [d for lay in self.layers[:layer] for d in lay]
            # fan-out: recent and popular datasets are read more (a skewed pick)
            k = min(len(pool), rnd.choice([1, 1, 2, 2, 2, 3, 4]))
            inputs = sorted({pool[min(len(pool) - 1, int(rnd.paretovariate(1.2)) - 1 + rnd.randrange(len(pool)) // 3)]
                             for _ in range(k)})
            outputs = [f"l{layer}/table_{j:06d}"] + ([f"l{layer}/table_{j:06d}_aux"] if rnd.random() < 0.15 else [])
            for o in outputs:
                self.columns[o] = [(f"c{c:02d}", rnd.choice(TYPES)) for c in range(shape.columns)]
                self.layers[layer].append(o)
            self.jobs.append((f"pipeline.job_{j:06d}", inputs, outputs))


def events(shape: Shape = Shape()) -> Iterator[dict[str, Any]]:
    """Yield the events in eventTime order (runs of one day interleave across jobs)."""
    plan = _Plan(shape)
    rnd = random.Random(shape.seed + 1)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    ns = shape.namespace
    for r in range(shape.runs_per_job):
        for j, (job, inputs, outputs) in enumerate(plan.jobs):
            start = t0 + timedelta(days=r, seconds=j)
            run_id = str(uuid.UUID(int=(r << 64) | (j + 1), version=4))
            outs = []
            for o in outputs:
                cols = list(plan.columns[o])
                if r > 0 and rnd.random() < shape.schema_change_rate:
                    cols = cols[:-1] if rnd.random() < 0.5 else [*cols, (f"added_r{r}", "string")]
                fields = {}
                for name, _ in cols:
                    srcs = []
                    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
                        src = rnd.choice(inputs)
                        subtype = rnd.choice(["IDENTITY", "IDENTITY", "TRANSFORMATION", "AGGREGATION"])
                        srcs.append({"namespace": ns, "name": src, "field": rnd.choice(plan.columns[src])[0],
                                     "transformations": [{"type": "DIRECT", "subtype": subtype}]})
                    fields[name] = {"inputFields": srcs}
                dataset_deps = [{"namespace": ns, "name": i, "field": plan.columns[i][0][0],
                                 "transformations": [{"type": "INDIRECT", "subtype": "JOIN"}]} for i in inputs[1:]]
                outs.append({
                    "namespace": ns, "name": o,
                    "facets": {
                        "schema": _facet(SCHEMA_FACET, fields=[{"name": n, "type": t} for n, t in cols]),
                        "dataSource": _facet(SOURCE_FACET, name=ns, uri=ns),
                        "columnLineage": _facet(COLUMN_FACET, fields=fields, dataset=dataset_deps),
                    },
                })
            ins = [{"namespace": ns, "name": i, "facets": {"schema": _facet(
                SCHEMA_FACET, fields=[{"name": n, "type": t} for n, t in plan.columns[i]])}} for i in inputs]
            for event_type, dt in (("START", 0), ("COMPLETE", 30)):
                yield {
                    "eventTime": (start + timedelta(seconds=dt)).isoformat().replace("+00:00", "Z"),
                    "eventType": event_type,
                    "producer": PRODUCER,
                    "schemaURL": SCHEMA_URL,
                    "run": {"runId": run_id, "facets": {}},
                    "job": {"namespace": "synthetic", "name": job, "facets": {}},
                    "inputs": ins,
                    "outputs": outs,
                }
