"""Build OpenLineage events with openlineage-python's spec classes (never hand-typed dicts).

Everything lineagelab emits (the sample scenarios, the Spark and SQL capture) goes through here, so the facets and
schema URLs are the library's own and every event validates against the official schemas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, cast

import orjson
from openlineage.client import event_v2 as ev
from openlineage.client.facet_v2 import (
    RunFacet,
    column_lineage_dataset,
    datasource_dataset,
    error_message_run,
    job_type_job,
    lifecycle_state_change_dataset,
    output_statistics_output_dataset,
    parent_run,
    processing_engine_run,
    schema_dataset,
    sql_job,
    symlinks_dataset,
)
from openlineage.client.serde import Serde

from lineagelab import PRODUCER, __version__

# (input namespace, input name, input field, type, subtype, description|None)
ColumnSource = tuple[str, str, str, str, str, str | None]


def schema(fields: Iterable[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=n, type=t) for n, t in fields], producer=PRODUCER
    )


def symlink(namespace: str, name: str, kind: str = "TABLE") -> symlinks_dataset.SymlinksDatasetFacet:
    return symlinks_dataset.SymlinksDatasetFacet(
        identifiers=[symlinks_dataset.Identifier(namespace=namespace, name=name, type=kind)], producer=PRODUCER
    )


def datasource(namespace: str) -> datasource_dataset.DatasourceDatasetFacet:
    return datasource_dataset.DatasourceDatasetFacet(name=namespace, uri=namespace, producer=PRODUCER)


def column_lineage(
    fields: Mapping[str, Sequence[ColumnSource]], dataset: Sequence[ColumnSource] = (),
    masked: Mapping[tuple[str, str, str, str, str], bool] | None = None,
) -> column_lineage_dataset.ColumnLineageDatasetFacet:
    """One InputField per source column, holding each of its transformations.

    ``masked`` marks (namespace, name, field, type, subtype) transformations that mask (hashes, counts); without
    it, ``count…`` aggregations are the masking ones.
    """

    def input_fields(srcs: Sequence[ColumnSource]) -> list[column_lineage_dataset.InputField]:
        grouped: dict[tuple[str, str, str], list[column_lineage_dataset.Transformation]] = {}
        for ns, name, field, typ, subtype, desc in srcs:
            key = (ns, name, field, typ, subtype)
            masking = masked[key] if masked is not None and key in masked else \
                subtype == "AGGREGATION" and (desc or "").lower().startswith("count")
            grouped.setdefault((ns, name, field), []).append(column_lineage_dataset.Transformation(
                type=typ, subtype=subtype, description=desc or "", masking=masking))
        return [column_lineage_dataset.InputField(namespace=ns, name=name, field=field, transformations=txs)
                for (ns, name, field), txs in grouped.items()]

    return column_lineage_dataset.ColumnLineageDatasetFacet(
        fields={
            out: column_lineage_dataset.Fields(inputFields=input_fields(srcs), transformationType="",
                                               transformationDescription="")
            for out, srcs in fields.items()
        },
        dataset=input_fields(dataset),
        producer=PRODUCER,
    )


def lifecycle(change: str) -> lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet:
    return lifecycle_state_change_dataset.LifecycleStateChangeDatasetFacet(
        lifecycleStateChange=lifecycle_state_change_dataset.LifecycleStateChange(change), producer=PRODUCER
    )


def output_statistics(rows: int, size: int | None = None, files: int | None = None) -> Any:
    return output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
        rowCount=rows, size=size, fileCount=files, producer=PRODUCER
    )


def job_type(processing: str, integration: str, kind: str) -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(processingType=processing, integration=integration, jobType=kind,
                                        producer=PRODUCER)


def sql(query: str, dialect: str) -> sql_job.SQLJobFacet:
    return sql_job.SQLJobFacet(query=query, dialect=dialect, producer=PRODUCER)


def parent(run_id: str, namespace: str, name: str) -> parent_run.ParentRunFacet:
    return parent_run.ParentRunFacet(
        run=parent_run.Run(runId=run_id), job=parent_run.Job(namespace=namespace, name=name), producer=PRODUCER
    )


def processing_engine(name: str, version: str) -> processing_engine_run.ProcessingEngineRunFacet:
    return processing_engine_run.ProcessingEngineRunFacet(
        version=version, name=name, openlineageAdapterVersion=__version__, producer=PRODUCER
    )


def error_message(message: str, language: str = "python", stack: str | None = None) -> Any:
    return error_message_run.ErrorMessageRunFacet(message=message, programmingLanguage=language, stackTrace=stack,
                                                  producer=PRODUCER)


def environment_properties(values: Mapping[str, str]) -> dict[str, Any]:
    """The ``environment-properties`` run facet AWS Glue and EMR attach (GLUE_VERSION, AWS_DEFAULT_REGION, …).

    DataZone reads its GLUE_* keys to name catalog tables by their Glue ARN. openlineage-python has no class for it
    and its key has a hyphen, so it is a plain dict (Serde passes dicts through as they are).
    """
    return {"_producer": PRODUCER, "_schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet",
            "environment-properties": dict(values)}


def run_event(
    event_type: str,
    event_time: str,
    run_id: str,
    job_namespace: str,
    job_name: str,
    *,
    inputs: Sequence[ev.InputDataset] = (),
    outputs: Sequence[ev.OutputDataset] = (),
    run_facets: Mapping[str, RunFacet | dict[str, Any]] | None = None,
    job_facets: Mapping[str, Any] | None = None,
) -> ev.RunEvent:
    return ev.RunEvent(
        eventType=ev.RunState[event_type],
        eventTime=event_time,
        run=ev.Run(runId=run_id, facets=cast("dict[str, RunFacet]", dict(run_facets or {}))),
        job=ev.Job(namespace=job_namespace, name=job_name, facets=dict(job_facets or {})),
        inputs=list(inputs),
        outputs=list(outputs),
        producer=PRODUCER,
    )


def to_dict(event: ev.RunEvent | ev.DatasetEvent | ev.JobEvent) -> dict[str, Any]:
    """Serialise with openlineage-python's Serde, as its transports do."""
    return Serde.to_dict(event)


def to_json(event: ev.RunEvent | ev.DatasetEvent | ev.JobEvent) -> bytes:
    return orjson.dumps(to_dict(event))
