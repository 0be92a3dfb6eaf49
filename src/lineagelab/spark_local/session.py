"""Local SparkSessions that behave like AWS Glue 5.0/6.1 and EMR 7.x/spark 8.2 for what lineage jobs use.

``local[*]`` pyspark 4.x with a Hive catalog (Derby metastore and warehouse under ``.lineagelab/``) standing in for
the Glue Data Catalog, Debian's MariaDB and PostgreSQL JDBC drivers on the classpath, ANSI mode off (Glue 5 and
EMR 7 run Spark 3.5, where it is off), s3:// and AWS JDBC endpoints redirected to the local stand-ins, and our
OpenLineage capture registered when the configuration asks for lineage (``spark.extraListeners`` naming
OpenLineageSparkListener, or Glue's "Generate lineage events"). Glue 6.1+ and EMR spark 8.2+ capture lineage without
being asked, into the Glue Data Catalog lineage API (``LINEAGE_DEFAULTS``); the profile's ``[glue] version`` and
``[emr] release`` choose the preset (``preset_for``).
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lineagelab.events.sinks import Sink
from lineagelab.events.sinks.local import CallbackSink
from lineagelab.profile import Profile
from lineagelab.spark_local import redirect
from lineagelab.spark_local.capture import SparkCapture
from lineagelab.spark_local.run_events import CaptureConfig

LOG4J = Path(__file__).with_name("log4j2.properties")
LISTENER = "io.openlineage.spark.agent.OpenLineageSparkListener"
DEBIAN_JARS = ("/usr/share/java/mariadb-java-client.jar", "/usr/share/java/postgresql.jar")
#: The environment each preset's runtime exports (the profile's version or release where it names one).
PRESETS: dict[str, dict[str, str]] = {
    "glue5": {"GLUE_VERSION": "5.0", "GLUE_PYTHON_VERSION": "3", "GLUE_COMMAND_CRITERIA": "glueetl"},
    "glue6": {"GLUE_VERSION": "6.1", "GLUE_PYTHON_VERSION": "3", "GLUE_COMMAND_CRITERIA": "glueetl"},
    "emr7": {"EMR_RELEASE_LABEL": "emr-7.8.0"},
    "emr8": {"EMR_RELEASE_LABEL": "emr-spark-8.2.0"},
}
#: What a preset's runtime configures without being asked: Glue 6.1+ and EMR spark 8.2+ send lineage to the Glue
#: lineage API, column-level dataset lineage on. The job's own conf still decides.
LINEAGE_DEFAULTS: dict[str, dict[str, str]] = {
    "glue6": {"spark.openlineage.transport.type": "amazon_glue_api",
              "spark.openlineage.columnLineage.datasetLineageEnabled": "true"},
    "emr8": {"spark.openlineage.transport.type": "amazon_glue_api",
             "spark.openlineage.columnLineage.datasetLineageEnabled": "true"},
}
#: (first version with lineage on by default, its preset, the older preset)
_GLUE_SINCE, _EMR_SINCE = (6, 1), (8, 2)


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:2])


def preset_for(service: str, profile: Profile) -> str:
    """The preset a ``glue`` or ``emr`` job runs on, by the profile's Glue version or EMR release."""
    if service == "glue":
        return "glue6" if _version(profile.glue_version) >= _GLUE_SINCE else "glue5"
    if service == "emr":
        return "emr8" if _version(profile.emr_release) >= _EMR_SINCE else "emr7"
    raise ValueError(f"no preset for service {service!r} (glue or emr)")


def preset_env(preset: str, profile: Profile) -> dict[str, str]:
    """The environment the preset's runtime exports, with the profile's own Glue version or EMR release."""
    env = dict(PRESETS.get(preset, {}))
    if "GLUE_VERSION" in env and preset_for("glue", profile) == preset:
        env["GLUE_VERSION"] = profile.glue_version
    if "EMR_RELEASE_LABEL" in env and preset_for("emr", profile) == preset:
        env["EMR_RELEASE_LABEL"] = profile.emr_release
    return env


def job_conf(preset: str, conf: Mapping[str, str]) -> dict[str, str]:
    """``conf`` over what the preset's runtime sets by default: where its events go is read from the result."""
    return {**LINEAGE_DEFAULTS.get(preset, {}), **conf}


@dataclass
class Notes:
    """What the session did differently from AWS, said once to the user (ignored jars, mapped paths)."""

    lines: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        if text not in self.lines:
            self.lines.append(text)


def parse_conf_string(text: str) -> dict[str, str]:
    """``--conf a=b --conf c=d`` (spark-submit parameters, a notebook's %%configure) -> {a: b, c: d}."""
    words = shlex.split(text.replace("\\\n", " "))
    conf: dict[str, str] = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w == "--conf" and i + 1 < len(words):
            k, _, v = words[i + 1].partition("=")
            conf[k.strip()] = v.strip()
            i += 2
            continue
        if w.startswith("spark.") and "=" in w:  # %%configure's first pair has no --conf in front
            k, _, v = w.partition("=")
            conf[k.strip()] = v.strip()
        elif w == "--jars" and i + 1 < len(words):
            conf["spark.jars"] = ",".join(x for x in (conf.get("spark.jars"), words[i + 1]) if x)
            i += 2
            continue
        elif w.startswith("--") and i + 1 < len(words) and not words[i + 1].startswith("--"):
            conf[f"spark-submit.{w[2:]}"] = words[i + 1]
            i += 2
            continue
        i += 1
    return conf


def local_jars(spec: str | None, notes: Notes) -> list[str]:
    """The jars of ``spark.jars`` that exist here; EMR/S3-only paths are noted and dropped."""
    jars: list[str] = []
    for j in (spec or "").split(","):
        j = j.strip()
        if not j:
            continue
        if Path(j).exists():
            jars.append(str(Path(j).resolve()))
        elif "mysql-connector" in j or "mariadb" in j:
            notes.add(f"spark.jars: {j} -> Debian's MariaDB JDBC driver")
        elif "postgresql" in j or "redshift-jdbc" in j:
            notes.add(f"spark.jars: {j} -> Debian's PostgreSQL JDBC driver")
        elif "openlineage" in j.lower() or "DataZoneOpenLineageSpark" in j:
            notes.add(f"spark.jars: {j} -> lineagelab's built-in OpenLineage capture")
        else:
            notes.add(f"spark.jars: {j} does not exist here: ignored")
    return jars


def official_jar(jars: Iterable[str]) -> str | None:
    """A real openlineage-spark JAR among the user's jars (then it does the capture, not us)."""
    return next((j for j in jars if re.search(r"openlineage-spark[^/]*\.jar$", j)), None)


def listener_conf(conf: Mapping[str, str], jars: Iterable[str], home: Path, app_name: str,
                  notes: Notes) -> dict[str, str]:
    """With the official openlineage-spark JAR on the classpath, it captures: its events go to a file the run
    reads back into the store. Without it, its listener class is dropped from the conf and ours stands in."""
    out = dict(conf)
    jar = official_jar(jars)
    if jar is None:
        out.pop("spark.extraListeners", None)
        return out
    notes.add(f"using the official OpenLineage listener from {jar}")
    out["spark.extraListeners"] = LISTENER
    if out.get("spark.openlineage.transport.type") in (None, "", "amazon_datazone_api"):
        out["spark.openlineage.transport.type"] = "file"
        out["spark.openlineage.transport.location"] = str(official_events_file(home, app_name))
    return out


def official_events_file(home: Path, app_name: str) -> Path:
    return home / "spark-events" / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', app_name)}.ndjson"


def capture_config(conf: Mapping[str, str], profile: Profile, app_name: str, spark_version: str,
                   master: str) -> CaptureConfig:
    """openlineage-spark's reading of the conf: app name, namespace, account/region, env-var facet."""
    name = conf.get("spark.openlineage.appName") or conf.get("spark.glue.JOB_NAME") or app_name
    env = conf.get("spark.openlineage.facets.custom_environment_variables", "")
    env_vars = [v for v in env.strip("[]").split(";") if v.strip()]
    account = conf.get("spark.glue.accountId") or conf.get("hive.metastore.glue.catalogid") or profile.account
    return CaptureConfig(
        app_name=name,
        namespace=conf.get("spark.openlineage.namespace", "default"),
        account=account.replace("{account_id}", profile.account),
        region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION") or profile.region,
        glue_catalog=True,  # the local catalog stands in for the Glue Data Catalog
        env_vars=env_vars,
        dataset_lineage=conf.get("spark.openlineage.columnLineage.datasetLineageEnabled", "true").lower() == "true",
        lake=Path(profile.lake).resolve(),
        master=master,
        spark_version=spark_version,
    )


def build_session(
    app_name: str,
    profile: Profile,
    conf: Mapping[str, str] | None = None,
    preset: str = "glue5",
    home: Path | None = None,
    notes: Notes | None = None,
    master: str = "local[*]",
) -> Any:
    """A configured (not yet captured) SparkSession; ``getOrCreate`` in the user's script then returns it."""
    from pyspark.sql import SparkSession

    conf = dict(conf or {})
    notes = notes or Notes()
    home = (home or Path(".lineagelab")).resolve()
    (home / "metastore").mkdir(parents=True, exist_ok=True)
    jars = [j for j in DEBIAN_JARS if Path(j).exists()] + local_jars(conf.pop("spark.jars", None), notes)
    for key in list(conf):
        if key.startswith("spark-submit."):
            conf.pop(key)
    conf = listener_conf(conf, jars, home, app_name, notes)
    conf = job_conf(preset, conf)
    os.environ.update({k: v for k, v in preset_env(preset, profile).items() if k not in os.environ})
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers (UDFs, Glue's Map): this interpreter's packages
    os.environ.setdefault("AWS_DEFAULT_REGION", profile.region)
    os.environ.setdefault("AWS_REGION", profile.region)
    b = (SparkSession.builder.master(master).appName(app_name)
         .config("spark.jars", ",".join(jars))
         .config("spark.sql.warehouse.dir", str(home / "warehouse"))
         .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home / 'metastore'} "
                 f"-Dlog4j.configurationFile={LOG4J.as_uri()}")
         .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                 f"jdbc:derby:;databaseName={home / 'metastore' / 'metastore_db'};create=true")
         .config("spark.ui.enabled", "false")
         .config("spark.ui.showConsoleProgress", "false")
         .config("spark.sql.shuffle.partitions", "4")
         .config("spark.sql.ansi.enabled", "false")
         .config("spark.sql.sources.partitionOverwriteMode", "dynamic" if preset.startswith("emr") else "static")
         .enableHiveSupport())
    for k, v in conf.items():
        b = b.config(k, v.replace("{account_id}", profile.account))
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    redirect.install(redirect.Redirect(profile))
    return spark


def attach_capture(spark: Any, profile: Profile, sink: Sink | Callable[[dict[str, Any]], object],
                   conf: Mapping[str, str] | None = None, app_name: str | None = None) -> SparkCapture:
    """Register lineagelab's capture on ``spark``: events go to ``sink`` (a function is wrapped in one)."""
    session_conf = dict(spark.sparkContext.getConf().getAll())
    # a script's own conf decides (one JVM may serve several scripts in a row, as in tests); else the session's
    merged = session_conf if conf is None else {k: session_conf[k] for k in ("spark.master", "spark.app.name")
                                                if k in session_conf} | dict(conf)
    cfg = capture_config(merged, profile, app_name or merged.get("spark.app.name", "spark_application"),
                         spark.version, merged.get("spark.master", "local[*]"))
    r = redirect.active()
    if r is not None:
        cfg.jdbc_aliases = r.aliases  # shared: aliases recorded later are seen too
    return SparkCapture(spark, cfg, sink if isinstance(sink, Sink) else CallbackSink(sink)).start()
