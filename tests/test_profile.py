"""The project profile has one loader: ``$LINEAGELAB_PROFILE`` picks the file for every caller, [map] included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lineagelab import profile
from lineagelab.aws_targets import mapping

LOCAL = "mysql://127.0.0.1:3306"
RDS = "mysql://lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com:3306"


def _map_file(path: Path, aws: str) -> Path:
    path.write_text(f'[aws]\naccount = "123456789012"\n[[map.namespace]]\nlocal = "{LOCAL}"\naws = "{aws}"\n')
    return path


def test_env_profile_selects_the_map_the_mapping_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _map_file(tmp_path / "lineagelab.toml", "mysql://cwd-profile:3306")
    chosen = _map_file(tmp_path / "elsewhere.toml", RDS)
    monkeypatch.chdir(tmp_path)
    assert mapping.for_profile(profile.load()).namespace(LOCAL) == "mysql://cwd-profile:3306"
    monkeypatch.setenv("LINEAGELAB_PROFILE", str(chosen))
    prof = profile.load()
    assert prof.path == chosen
    assert prof.map.namespaces == (profile.MapRule(LOCAL, RDS),)
    assert mapping.for_profile(prof).dataset(LOCAL, "employeedb.employee") == (RDS, "employeedb.employee")
    assert mapping.for_profile(profile.load(None, what="mapping profile")).namespace(LOCAL) == RDS  # replay's call
    explicit = _map_file(tmp_path / "explicit.toml", "mysql://explicit:3306")
    assert mapping.for_profile(profile.load(explicit)).namespace(LOCAL) == "mysql://explicit:3306"


def test_a_file_without_aws_keys_leaves_glue_arns_alone(tmp_path: Path) -> None:
    path = tmp_path / "map.toml"
    path.write_text(f'[[map.namespace]]\nlocal = "{LOCAL}"\naws = "{RDS}"\n')
    m = mapping.for_profile(profile.load(path))
    assert m.account is None and m.region is None
    assert m.namespace("arn:aws:glue:eu-west-1:111122223333") == "arn:aws:glue:eu-west-1:111122223333"


@pytest.mark.parametrize(("text", "message"), [
    ('map = 3\n', "bad.toml: map must be a table"),
    ('[map]\nnamespace = "x"\n', "bad.toml: map.namespace must be a list of tables ([[map.namespace]])"),
    ('[[map.name]]\nlocal = "a"\n', "bad.toml: map.name[0] needs string keys 'local' and 'aws'"),
    ('[aws\n', "bad.toml: not valid TOML"),
])
def test_bad_map_sections_name_file_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                            message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("bad.toml").write_text(text)
    with pytest.raises(profile.ProfileError) as info:
        profile.load("bad.toml")
    assert str(info.value).startswith(message)
    with pytest.raises(profile.ProfileError, match=r"cannot read mapping profile nope\.toml"):
        profile.load("nope.toml", what="mapping profile")


def test_replay_dry_run_maps_with_the_env_profile(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    docs = [e for e in events if e["job"]["name"].startswith("spark_lineage")]
    text = json.dumps(docs).replace("lineage-rds.c1a2b3c4d5e6.us-west-2.rds.amazonaws.com", "127.0.0.1")
    (tmp_path / "events.ndjson").write_text("".join(json.dumps(d) + "\n" for d in json.loads(text)))
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    env = {**os.environ, "LINEAGELAB_STORE": str(tmp_path / "lineage.duckdb"),
           "LINEAGELAB_PROFILE": str(_map_file(profiles / "aws.toml", RDS))}

    def cli(*args: str) -> str:
        proc = subprocess.run([sys.executable, "-m", "lineagelab", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    cli("ingest", "events.ndjson")
    lines = [json.loads(x) for x in cli("replay", "--dry-run", "--format", "json").splitlines()]
    assert lines
    assert not any("127.0.0.1" in json.dumps(x["event"]) for x in lines)
    ids = {i for x in lines for i in x["source_identifiers"]["inputs"]}
    assert f"{RDS}/employeedb.employee" in ids
