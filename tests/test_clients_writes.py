"""One store, many clients, for the commands that write the store or use AWS: with ``lineagelab serve`` holding the
store, ``store rebuild``, ``replay`` and ``demo`` work through the server as they work without it, a replay in the
server uses the client's AWS settings, and a server file a killed server left behind is not taken for a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lineagelab import profile
from lineagelab.cli.remote import ClientEnvironment, applied, client_environment
from lineagelab.store import spool
from tests.conftest import write_ndjson
from tests.server_fixture import free_port, running_server

DOMAIN = "dzd_served12345"
QUERIES = [("graph", "--format", "json"), ("lineage", "csv/attendance.csv", "--downstream", "--format", "json"),
           ("warnings",)]


def _store(home: Path) -> Path:
    return home / ".lineagelab" / "lineage.duckdb"


def _without_aws() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "LINEAGELAB_PROFILE"}


def cli(home: Path, *args: str, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it in ``home`` (the store beside it); ``env``: the whole environment, else this
    process's."""
    full = {**(os.environ if env is None else env), "LINEAGELAB_STORE": str(_store(home)), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "lineagelab", *args], capture_output=True, text=True, env=full,
                          cwd=home, timeout=300)
    if check and proc.returncode:
        raise AssertionError(f"exit {proc.returncode}\nstdout:{proc.stdout}\nstderr:{proc.stderr}")
    return proc


def _aws(tmp_path: Path, **variables: str) -> dict[str, str]:
    """An environment with exactly these AWS settings (no AWS config files of this machine's user)."""
    return {**_without_aws(), "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"), **variables}


def test_store_rebuild_while_served_answers_as_direct_and_the_server_goes_on(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    late = [e for e in events if e["job"]["name"].startswith("lineagenotebook")]
    write_ndjson(tmp_path / "early.ndjson", [e for e in events if e not in late])
    write_ndjson(tmp_path / "late.ndjson", late)
    cli(tmp_path, "ingest", "early.ndjson")
    direct = cli(tmp_path, "store", "rebuild").stdout
    before = [cli(tmp_path, *q).stdout for q in QUERIES]
    with running_server(_store(tmp_path)):
        served = cli(tmp_path, "store", "rebuild")
        assert served.stdout == direct and direct.startswith("rebuilt from ")
        assert [cli(tmp_path, *q).stdout for q in QUERIES] == before
        # events that arrive after the rebuild are stored and derived as before it
        assert f"accepted {len(late)}, duplicates 0, rejected 0" in cli(tmp_path, "ingest", "late.ndjson").stdout
        graph = cli(tmp_path, "graph", "--format", "json").stdout
        stats = json.loads(cli(tmp_path, "store", "stats", "--format", "json").stdout)
    assert "lineagenotebook" not in before[0] and "lineagenotebook" in graph
    assert stats["events"] == len(events)
    cli(tmp_path, "store", "rebuild")
    assert cli(tmp_path, "graph", "--format", "json").stdout == graph  # what the server derived is the whole model


def test_replay_while_served_goes_through_the_ledger_in_the_store_exactly_once(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    write_ndjson(tmp_path / "e.ndjson", events)
    cli(tmp_path, "ingest", "e.ndjson")
    # a relative $LINEAGELAB_PROFILE means the client's folder, not the server's
    (tmp_path / "twin.toml").write_text('[[map.namespace]]\nlocal = "s3://datazone-123456789012"\n'
                                        'aws = "s3://twin-bucket"\n')
    env = _aws(tmp_path, AWS_ACCESS_KEY_ID="AKIDLOCAL", AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-west-2")
    with running_server(_store(tmp_path)) as server:
        dry = cli(tmp_path, "replay", "--dry-run", "--format", "json", env={**env, "LINEAGELAB_PROFILE": "twin.toml"})
        first = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url, env=env)
        status = cli(tmp_path, "replay", "status").stdout
        again = cli(tmp_path, "replay", "--domain", DOMAIN, "--endpoint-url", server.url, env=env)
    sent = [json.loads(line) for line in dry.stdout.splitlines()]
    ids = {i for x in sent for side in x["source_identifiers"].values() for i in side}
    assert any(i.startswith("s3://twin-bucket/") for i in ids)
    assert not any(i.startswith("s3://datazone-123456789012/") for i in ids)
    assert cli(tmp_path, "replay", "--dry-run", "--format", "json",
               env={**env, "LINEAGELAB_PROFILE": "twin.toml"}).stdout == dry.stdout
    assert f"{len(sent)} RunEvents selected, {len(sent)} sent, 0 already sent, 0 failed" in first.stdout
    assert f"datazone:{DOMAIN}@{server.url}" in status and str(len(sent)) in status
    assert f"{len(sent)} RunEvents selected, 0 sent, {len(sent)} already sent, 0 failed" in again.stdout
    assert cli(tmp_path, "replay", "status").stdout == status


def test_a_replay_in_the_server_uses_the_clients_aws_settings_not_the_servers(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    write_ndjson(tmp_path / "e.ndjson", events[:6])
    cli(tmp_path, "ingest", "e.ndjson")
    secret = "client-secret-not-for-logs"
    server_env = _aws(tmp_path, AWS_ACCESS_KEY_ID="server-key", AWS_SECRET_ACCESS_KEY="server-secret",
                      AWS_DEFAULT_REGION="eu-central-1")
    # the server takes only requests signed with the client's access key: its own are refused
    with running_server(_store(tmp_path), token="client-key", env=server_env) as server:
        args = ("replay", "--domain", DOMAIN, "--endpoint-url", server.url)
        refused = cli(tmp_path, *args, env=server_env, check=False)  # the server's settings, sent by a client
        no_region = cli(tmp_path, *args, env=_aws(tmp_path, AWS_ACCESS_KEY_ID="client-key",
                                                  AWS_SECRET_ACCESS_KEY=secret), check=False)
        done = cli(tmp_path, *args, env=_aws(tmp_path, AWS_ACCESS_KEY_ID="client-key", AWS_SECRET_ACCESS_KEY=secret,
                                             AWS_DEFAULT_REGION="us-west-2"))
    assert refused.returncode != 0 and " 0 sent" in refused.stdout + refused.stderr
    assert no_region.returncode == 1 and "region" in no_region.stderr  # not the server's eu-central-1
    assert "6 RunEvents selected, 6 sent, 0 already sent, 0 failed" in done.stdout
    log = server.proc.stderr.read().decode() if server.proc.stderr else ""
    assert secret not in log


def test_client_environment_applies_for_one_command_then_restores(tmp_path: Path, monkeypatch: Any) -> None:
    client = tmp_path / "client"
    client.mkdir()
    (client / "lineagelab.toml").write_text('[aws]\naccount = "210987654321"\n')
    monkeypatch.chdir(client)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_CONFIG_FILE", "aws.cfg")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("LINEAGELAB_PROFILE", raising=False)
    env = ClientEnvironment.from_json(json.loads(json.dumps(client_environment().to_json())))
    assert env is not None and "us-west-2" not in repr(env)  # credentials stay out of logs and tracebacks
    assert env.variables["AWS_CONFIG_FILE"] == str(client / "aws.cfg")
    monkeypatch.chdir(tmp_path)  # the server: elsewhere, with settings of its own
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_PROFILE", "server-profile")
    monkeypatch.setenv("PATH_OF_THE_SERVER", "kept")
    with applied(env):
        assert (os.environ["AWS_REGION"], os.environ.get("AWS_PROFILE")) == ("us-west-2", None)
        assert os.environ["PATH_OF_THE_SERVER"] == "kept"
        assert profile.load().account == "210987654321"  # the client's ./lineagelab.toml
    assert (os.environ["AWS_REGION"], os.environ["AWS_PROFILE"]) == ("eu-central-1", "server-profile")
    assert "AWS_CONFIG_FILE" in os.environ and profile.load().path is None
    smuggled = ClientEnvironment.from_json({"variables": {"PATH": "/tmp/evil", "AWS_REGION": "x"}, "workdir": "/"})
    assert smuggled is not None and dict(smuggled.variables) == {"AWS_REGION": "x"}  # only AWS's and the profile's


def test_demo_samples_while_served_stores_through_the_server(tmp_path: Path) -> None:
    served_home, direct_home = tmp_path / "a", tmp_path / "b"  # the same length: tables wrap alike
    served_home.mkdir()
    direct_home.mkdir()
    with running_server(_store(served_home)):
        served = cli(served_home, "demo", "--samples")
        stats = json.loads(cli(served_home, "store", "stats", "--format", "json").stdout)
    assert not spool.files(_store(served_home))
    direct = cli(direct_home, "demo", "--samples")
    assert "accepted 22, duplicates 0, rejected 0" in served.stdout
    assert served.stdout.replace(str(served_home), "HOME") == direct.stdout.replace(str(direct_home), "HOME")
    assert stats["events"] == json.loads(cli(direct_home, "store", "stats", "--format", "json").stdout)["events"]


def test_a_killed_servers_file_is_removed_and_a_process_that_is_not_the_server_ignored(
        tmp_path: Path, events: list[dict[str, Any]]) -> None:
    store = _store(tmp_path)
    info = store.with_name(store.name + ".server.json")
    write_ndjson(tmp_path / "e.ndjson", events[:4])
    write_ndjson(tmp_path / "more.ndjson", events[4:6])
    with running_server(store) as server:
        cli(tmp_path, "ingest", "e.ndjson")
        server.proc.kill()  # SIGKILL: no chance to remove its file
        server.proc.wait()
    assert info.exists()
    assert json.loads(cli(tmp_path, "store", "stats", "--format", "json").stdout)["events"] == 4
    assert not info.exists()
    # the pid of a live process that is no server (a pid the system gave again), on a port nobody listens on
    sleeper = subprocess.Popen(["sleep", "120"])
    try:
        info.write_text(json.dumps({"pid": sleeper.pid, "url": f"http://127.0.0.1:{free_port()}", "token": "t",
                                    "instance": "gone"}))
        assert "accepted 2, duplicates 0, rejected 0" in cli(tmp_path, "ingest", "more.ndjson").stdout
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not spool.files(store)
    # another lineagelab server (of another store) where the killed one listened: not the one in the file
    with running_server(tmp_path / "other" / "lineage.duckdb") as other:
        info.write_text(json.dumps({"pid": other.proc.pid, "url": other.url, "token": None, "instance": "gone"}))
        assert json.loads(cli(tmp_path, "store", "stats", "--format", "json").stdout)["events"] == 6
