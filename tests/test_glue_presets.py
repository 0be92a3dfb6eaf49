"""Glue 6.1 / EMR spark 8.2 presets: lineage to the Glue lineage API by default, and the ``amazon_glue_api``
transport's routes (the store, a local or AWS Glue endpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from lineagelab import profile
from lineagelab.spark_local import session, transport
from tests.server_fixture import running_server

T = transport.PREFIX


def test_profile_names_glue_version_and_emr_release(tmp_path: Path) -> None:
    (tmp_path / "p.toml").write_text('[glue]\nversion = "6.1"\n[emr]\nrelease = "emr-spark-8.2.0"\n')
    prof = profile.load(tmp_path / "p.toml")
    assert (prof.glue_version, prof.emr_release) == ("6.1", "emr-spark-8.2.0")
    assert (session.preset_for("glue", prof), session.preset_for("emr", prof)) == ("glue6", "emr8")
    assert session.preset_env("glue6", prof)["GLUE_VERSION"] == "6.1"
    assert session.preset_env("emr8", prof)["EMR_RELEASE_LABEL"] == "emr-spark-8.2.0"
    (tmp_path / "q.toml").write_text('glue_version = "5.0"\n[emr]\nrelease = "emr-7.8.0"\n')
    old = profile.load(tmp_path / "q.toml")
    assert (session.preset_for("glue", old), session.preset_for("emr", old)) == ("glue5", "emr7")
    assert (session.preset_for("glue", profile.Profile()), session.preset_for("emr", profile.Profile())) == (
        "glue5", "emr7")
    (tmp_path / "bad.toml").write_text('[glue]\nversion = "six"\n')
    with pytest.raises(profile.ProfileError, match=r"bad.toml: glue.version must be a Glue version"):
        profile.load(tmp_path / "bad.toml")
    (tmp_path / "bad2.toml").write_text('[emr]\nrelease = "8.2"\n')
    with pytest.raises(profile.ProfileError, match=r"bad2.toml: emr.release must be an EMR release"):
        profile.load(tmp_path / "bad2.toml")


def test_new_presets_send_lineage_to_the_glue_api_by_default() -> None:
    for preset in ("glue6", "emr8"):
        conf = session.job_conf(preset, {})
        assert conf[T + "type"] == "amazon_glue_api"
        assert conf["spark.openlineage.columnLineage.datasetLineageEnabled"] == "true"
        assert transport.route(conf, "us-west-2") == transport.Route("store")  # locally: into the store
        assert session.job_conf(preset, {T + "type": "console"})[T + "type"] == "console"  # the job decides
    for preset in ("glue5", "emr7"):
        assert T + "type" not in session.job_conf(preset, {})


def test_amazon_glue_api_routes() -> None:
    base = {T + "type": "amazon_glue_api"}
    local = transport.route({**base, T + "endpointOverride": "http://127.0.0.1:5000"}, "us-west-2")
    assert local == transport.Route("glue", endpoint="http://127.0.0.1:5000", region="us-west-2")
    aws = transport.route({**base, T + "region": "eu-west-1"}, "us-west-2")
    assert aws.kind == "glue" and aws.endpoint is None and aws.region == "eu-west-1"
    assert aws.url == "https://glue.eu-west-1.amazonaws.com"
    with pytest.raises(ValueError, match="amazon_glue_api"):
        transport.route({T + "type": "kafka"}, "us-west-2")


def test_a_glue_route_delivers_to_the_local_glue_endpoint(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with running_server(tmp_path / "store.duckdb") as s:
        r = transport.route({T + "type": "amazon_glue_api", T + "endpointOverride": s.url}, "us-west-2")
        run_events = [e for e in events if e["job"]["name"].startswith("lineageglue")]
        assert transport.send(run_events, r) == len(run_events)
        glue = boto3.client("glue", endpoint_url=s.url, region_name="us-west-2", aws_access_key_id="a",
                            aws_secret_access_key="b")
        node = glue.get_lineage_node(Identifier="arn:aws:glue:us-west-2:123456789012:table/gluedbname/"
                                                "attendance_with_emp1")
        assert node["UpstreamNodes"]
