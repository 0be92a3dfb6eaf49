"""Spark capture delivering straight to sinks: events reach the sink as the job runs, and a sink that fails is
reported by the capture without failing the job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lineagelab.events.sinks import RetryPolicy
from lineagelab.events.sinks.http import HttpSink
from lineagelab.events.sinks.local import FileSink
from lineagelab.spark_local.session import attach_capture


def test_capture_writes_to_a_file_sink(lineage_spark: Any, lineagelab_profile: Any, tmp_path: Path) -> None:
    out = tmp_path / "events.ndjson"
    with FileSink(out) as sink:
        capture = attach_capture(lineage_spark, lineagelab_profile, sink, {"spark.glue.JOB_NAME": "sinks"})
        try:
            lineage_spark.createDataFrame([(1,)], ["x"]).write.mode("overwrite").parquet(str(tmp_path / "o"))
            capture.close()
        finally:
            capture.detach()
    types = [json.loads(line)["eventType"] for line in out.read_text().splitlines()]
    assert types == ["START", "START", "COMPLETE", "COMPLETE"]  # the application, its write, both ended
    assert not capture.errors


def test_a_failing_sink_does_not_fail_the_job(lineage_spark: Any, lineagelab_profile: Any, tmp_path: Path) -> None:
    with HttpSink("http://127.0.0.1:9", policy=RetryPolicy(attempts=1)) as nobody:
        capture = attach_capture(lineage_spark, lineagelab_profile, nobody, {"spark.glue.JOB_NAME": "sinks"})
        try:
            lineage_spark.createDataFrame([(1,)], ["x"]).write.mode("overwrite").parquet(str(tmp_path / "o"))
            capture.close()
        finally:
            capture.detach()
    assert capture.writes == 1
    assert len(capture.errors) == 4 and all("delivery to http:http://127.0.0.1:9" in e for e in capture.errors)
