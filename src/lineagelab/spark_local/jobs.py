"""Running a job script as its AWS service would: prepare it (script, conf, where its events go), run it on local
Spark, deliver its events. Three steps, so a caller can show progress and report between them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lineagelab.profile import Connection, Profile
from lineagelab.spark_local import glue_connections, runner, session, transport

if TYPE_CHECKING:
    pass

# The environment variables Glue 5.0 reports in its lineage events' environment facet.
GLUE_ENV_FACET = "[AWS_DEFAULT_REGION;GLUE_VERSION;GLUE_PYTHON_VERSION;GLUE_COMMAND_CRITERIA;JOB_NAME;]"


class JobError(ValueError):
    """The script cannot be read, or its conf asks for a delivery this lab does not have (the message says which)."""


@dataclass(frozen=True)
class SparkJob:
    script: runner.Script
    route: transport.Route
    profile: Profile
    connections: Mapping[str, Connection]


@dataclass(frozen=True)
class Delivered:
    where: str  # "store PATH", or the transport and its address
    rejected: Sequence[Any]  # the store's rejections (none for other routes)


def glue_job_argv(job_name: str, args: Mapping[str, str]) -> list[str]:
    """Glue's ``sys.argv``: ``--JOB_NAME name`` then ``--KEY value`` for each job argument."""
    return ["--JOB_NAME", job_name] + [x for k, v in args.items() for x in (f"--{k.lstrip('-')}", v)]


def glue_job_conf(job_name: str, extra: Mapping[str, str], lineage: bool = True,
                  preset: str = "glue5") -> dict[str, str]:
    """The Spark conf a Glue job runs with; ``lineage`` is Glue 5.0's "Generate lineage events" switch (Glue 6.1+
    sends lineage to the Glue lineage API unasked: its preset says where)."""
    conf = {"spark.glue.JOB_NAME": job_name, "spark.app.name": f"nativespark-{job_name}-jr_local",
            "spark.openlineage.facets.custom_environment_variables": GLUE_ENV_FACET,
            "spark.openlineage.columnLineage.datasetLineageEnabled": "true", **extra}
    if lineage and "spark.openlineage.transport.type" not in session.LINEAGE_DEFAULTS.get(preset, {}):
        conf.setdefault("spark.openlineage.transport.type", "amazon_datazone_api")
    return conf


def prepare(script_path: Path, profile: Profile, conf: Mapping[str, str], connections: Path | None) -> SparkJob:
    """Read the script (or notebook) and decide where its events go from its conf and ``conf``."""
    conns = glue_connections.load_file(connections) if connections else {}
    try:
        script = runner.read_script(script_path, profile.account)
    except (FileNotFoundError, ValueError) as exc:
        raise JobError(str(exc)) from None
    try:
        route = transport.route({**script.conf, **conf}, profile.region)
    except ValueError as exc:
        raise JobError(str(exc)) from None
    return SparkJob(script, route, profile, conns)


def run(job: SparkJob, *, app_name: str, preset: str, argv: Sequence[str], conf: dict[str, str],
        home: Path | None, glue_globals: bool, environ: Mapping[str, str] | None = None) -> runner.RunResult:
    """Run the job in this process; ``environ`` is what its runtime exports (Glue: ``JOB_NAME``)."""
    os.environ.update(environ or {})
    return runner.run(job.script, app_name=app_name, profile=job.profile, preset=preset, argv=argv, conf=conf,
                      connections=dict(job.connections), home=home, glue_globals=glue_globals)


def deliver(job: SparkJob, events: list[dict[str, Any]], source: str,
            store: Callable[[list[dict[str, Any]], str], Delivered]) -> Delivered:
    """Store the events (the default route: ``store`` puts them in the store, through the server holding it or a
    spool when neither answers) or send them where the job's conf says."""
    r = job.route
    if r.kind == "store":
        return store(events, source)
    transport.send(events, r)
    return Delivered(r.kind + (f" {r.url or r.endpoint or r.location}" if r.kind != "console" else ""), [])
