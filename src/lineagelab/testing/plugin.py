"""pytest plugin (entry point ``lineagelab``): unit-test Spark transformations and the lineage they produce.

Fixtures:

``lineage_spark``
    A Glue-5-like local SparkSession (Hive catalog, JDBC drivers), one per test session: starting Spark takes
    seconds, tests take milliseconds.
``lineage``
    Captures the lineage of what the test writes, with s3:// redirected to a temporary lake and the profile's AWS
    endpoints to their local services for this test only; ``lineage.last()`` is the last write's
    :class:`WriteLineage`::

        def test_totals(lineage_spark, lineage):
            orders = lineage_spark.read.csv("s3://shop/orders.csv", header=True, inferSchema=True)
            totals(orders).write.parquet("s3://shop/totals/")
            run = lineage.last()
            assert run.inputs == {"s3://shop/orders.csv"}
            run.assert_column("total", "orders.csv::amount", "AGGREGATION")
``lineagelab_profile``
    The profile the session uses (``./lineagelab.toml`` if there is one, with a temporary lake); override it to
    point endpoints at your test databases.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lineagelab.testing.lineage import WriteLineage, writes


class LineageRecorder:
    """What the capture saw during one test."""

    def __init__(self, capture: Any, events: list[dict[str, Any]], lake: Path):
        self._capture, self.events, self.lake = capture, events, lake

    def flush(self) -> None:
        self._capture.flush()

    def configure(self, *, dataset_lineage: bool | None = None) -> None:
        """Change how this test's writes are reported: ``dataset_lineage=False`` appends dataset-wide dependencies
        to every column, as openlineage-spark does without ``columnLineage.datasetLineageEnabled``."""
        if dataset_lineage is not None:
            self._capture.cfg.dataset_lineage = dataset_lineage

    def writes(self) -> list[WriteLineage]:
        self.flush()
        return writes(self.events)

    def last(self) -> WriteLineage:
        __tracebackhide__ = True  # "no write was captured" points at the user's test
        found = self.writes()
        if not found:
            raise AssertionError("no write was captured (lineage is only emitted for actions that write)")
        return found[-1]

    def put(self, local: Path | str, uri: str) -> Path:
        """Copy a fixture file into the lake under ``s3://bucket/key``."""
        dest = self.lake / uri.split("://", 1)[1]
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(local, dest)
        return dest


@pytest.fixture(scope="session")
def lineagelab_profile(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from lineagelab.profile import load

    prof = load()
    prof.lake = tmp_path_factory.mktemp("lineagelab") / "lake"
    prof.lake.mkdir(parents=True, exist_ok=True)
    return prof


@pytest.fixture(scope="session")
def lineage_spark(lineagelab_profile: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from lineagelab.spark_local import redirect
    from lineagelab.spark_local.session import build_session

    home = tmp_path_factory.mktemp("lineagelab-spark")
    spark = build_session("pytest", lineagelab_profile, {"spark.glue.JOB_NAME": "pytest"}, home=home,
                          master="local[2]")
    # the redirect build_session installs is process-wide; tests get it from ``lineage``, each for its own duration
    redirect.uninstall()
    yield spark
    spark.stop()


@pytest.fixture
def lineage(lineage_spark: Any, lineagelab_profile: Any) -> Iterator[LineageRecorder]:
    from lineagelab.spark_local import redirect
    from lineagelab.spark_local.session import attach_capture

    before = redirect.active()
    redirect.install(redirect.Redirect(lineagelab_profile))
    try:
        events: list[dict[str, Any]] = []
        capture = attach_capture(lineage_spark, lineagelab_profile, events.append,
                                 {"spark.glue.JOB_NAME": "pytest"})
        try:
            yield LineageRecorder(capture, events, Path(lineagelab_profile.lake))
            capture.flush()
        finally:
            capture.detach()
    finally:
        # leave the next test the redirect it would have had (none, unless the caller installed one)
        if before is None:
            redirect.uninstall()
        else:
            redirect.install(before)
