"""What a captured write becomes: the plain data read off the JVM (``Write``, ``DatasetRef``) and the application and
write runs openlineage-spark would emit for it (``EventBuilder``: job names, facets, run hierarchy)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from openlineage.client import event_v2 as ev
from openlineage.client.uuid import generate_new_uuid

from lineagelab import PRODUCER
from lineagelab.events import build
from lineagelab.spark_local import datasets
from lineagelab.spark_local.plan import Tx

_SCHEMA_RUN_FACET = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"


@dataclass
class CaptureConfig:
    """What the events need from the session's configuration (``spark.openlineage.*``, ``spark.glue.*``)."""

    app_name: str
    namespace: str = "default"
    account: str | None = None
    region: str | None = None
    glue_catalog: bool = False
    env_vars: list[str] = field(default_factory=list)
    dataset_lineage: bool = False
    lake: Path = Path(".lineagelab/lake")
    master: str = "local[*]"
    spark_version: str = ""
    jdbc_aliases: dict[str, str] = field(default_factory=dict)  # local URL -> URL the script wrote
    # (namespace, name) -> (database, table): datasets the awsglue shim read or wrote as Glue catalog tables
    catalog_tables: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)


@dataclass
class DatasetRef:
    namespace: str
    name: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    symlink: tuple[str, str] | None = None
    table: tuple[str, str] | None = None  # catalog (database, table)


@dataclass
class Write:
    """One execution that writes, read off the JVM (all plain data from here on)."""

    node: str
    output: DatasetRef
    inputs: list[DatasetRef]
    columns: dict[str, list[tuple[DatasetRef, str, Tx]]]
    dataset: list[tuple[DatasetRef, str, Tx]]
    mode: str | None
    started: datetime
    ended: datetime
    error: str | None = None
    rows: int | None = None
    size: int | None = None
    files: int | None = None
    sql: str | None = None


def scrub(message: str) -> str:
    """Error messages may quote JDBC URLs: drop credentials from them."""
    message = re.sub(r"(password|pwd)=[^&;\s]*", r"\1=***", message, flags=re.I)
    return re.sub(r"//[^/@\s]*:[^/@\s]*@", "//", message)


def _time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventBuilder:
    """Application and write runs as openlineage-spark emits them (job names, facets, run hierarchy)."""

    def __init__(self, cfg: CaptureConfig):
        self.cfg = cfg
        self.app_run = str(generate_new_uuid())
        self.app_job = datasets.snake(cfg.app_name) or "spark_application"

    def _common(self) -> dict[str, Any]:
        facets: dict[str, Any] = {
            "processing_engine": build.processing_engine("spark", self.cfg.spark_version),
            "spark_properties": {"_producer": PRODUCER, "_schemaURL": _SCHEMA_RUN_FACET,
                                 "properties": {"spark.master": self.cfg.master,
                                                "spark.app.name": self.cfg.app_name}},
        }
        if self.cfg.env_vars:
            values = {k: os.environ[k] for k in self.cfg.env_vars if k in os.environ}
            facets["environment-properties"] = build.environment_properties(values)
        return facets

    def application(self, event_type: str, when: datetime, error: str | None = None) -> dict[str, Any]:
        facets = self._common()
        if error:
            facets["errorMessage"] = build.error_message(scrub(error))
        return build.to_dict(build.run_event(
            event_type, _time(when), self.app_run, self.cfg.namespace, self.app_job, run_facets=facets,
            job_facets={"jobType": build.job_type("NONE", "SPARK", "APPLICATION")}))

    def job_name(self, w: Write) -> str:
        suffix = datasets.job_suffix(w.output.namespace, w.output.name, w.output.table)
        return f"{self.app_job}.execute_{datasets.snake(w.node)}.{suffix}"

    def write(self, w: Write) -> list[dict[str, Any]]:
        run = str(generate_new_uuid())
        name = self.job_name(w)
        run_facets = {**self._common(), "parent": build.parent(self.app_run, self.cfg.namespace, self.app_job)}
        job_facets: dict[str, Any] = {"jobType": build.job_type("BATCH", "SPARK", "SQL_JOB")}
        if w.sql:
            job_facets["sql"] = build.sql(w.sql, "spark")
        ins = [ev.InputDataset(namespace=r.namespace, name=r.name, facets=self._facets(r)) for r in w.inputs]

        def output(final: bool) -> ev.OutputDataset:
            facets = self._facets(w.output)
            facets["columnLineage"] = self._lineage(w)
            change = "OVERWRITE" if (w.mode or "").lower() == "overwrite" else \
                "CREATE" if "Create" in w.node else None
            if change:
                facets["lifecycleStateChange"] = build.lifecycle(change)
            extra = {}
            if final and w.rows is not None:
                extra = {"outputStatistics": build.output_statistics(w.rows, w.size, w.files)}
            return ev.OutputDataset(namespace=w.output.namespace, name=w.output.name, facets=facets,
                                    outputFacets=extra)

        start = build.run_event("START", _time(w.started), run, self.cfg.namespace, name, inputs=ins,
                                outputs=[output(False)], run_facets=run_facets, job_facets=job_facets)
        end_facets = dict(run_facets)
        if w.error:
            end_facets["errorMessage"] = build.error_message(w.error, "JAVA")
        end = build.run_event("FAIL" if w.error else "COMPLETE", _time(w.ended), run, self.cfg.namespace, name,
                              inputs=ins, outputs=[output(not w.error)], run_facets=end_facets,
                              job_facets=job_facets)
        return [build.to_dict(start), build.to_dict(end)]

    def _facets(self, r: DatasetRef) -> dict[str, Any]:
        facets: dict[str, Any] = {"dataSource": build.datasource(r.namespace)}
        if r.fields:
            facets["schema"] = build.schema(r.fields)
        if r.symlink:
            facets["symlinks"] = build.symlink(*r.symlink)
        return facets

    def _lineage(self, w: Write) -> Any:
        def srcs(items: list[tuple[DatasetRef, str, Tx]]) -> tuple[list[build.ColumnSource], dict[Any, bool]]:
            """Sources and their masking flags, kept per output column so one column's count() masks no other."""
            masked: dict[tuple[str, str, str, str, str], bool] = {}
            for ref, col, tx in items:
                key = (ref.namespace, ref.name, col, tx.type, tx.subtype)
                masked[key] = masked.get(key, False) or tx.masking
            return [(*k, None) for k in masked], masked

        dataset, dataset_masked = srcs(w.dataset)
        columns = {c: srcs(items) for c, items in w.columns.items()}
        if not self.cfg.dataset_lineage:  # dataset-wide dependencies go to every field instead
            columns = {c: ([*v, *(d for d in dataset if d not in v)], {**dataset_masked, **m})
                       for c, (v, m) in columns.items()}
            dataset, dataset_masked = [], {}
        facet = build.column_lineage({}, dataset, dataset_masked)
        for c, (v, m) in columns.items():
            facet.fields[c] = build.column_lineage({c: v}, (), m).fields[c]
        return facet
