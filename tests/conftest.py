"""Shared fixtures: the official spec (the shared copy beside the checkout, else the bundled one), events, stores."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from lineagelab.simulator.seed_samples import sample_events
from lineagelab.store.store import Store

ROOT = Path(__file__).resolve().parents[1]
SHARED_SPEC = ROOT.parent / "shared" / "openlineage-spec"
SPEC_DIR = SHARED_SPEC if SHARED_SPEC.is_dir() else ROOT / "src" / "lineagelab" / "events" / "spec"


@pytest.fixture(scope="session")
def spec_dir() -> Path:
    return SPEC_DIR


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return copy.deepcopy(_SAMPLE)


_SAMPLE = sample_events()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "lineage.duckdb") as s:
        yield s


def write_ndjson(path: Path, docs: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# -- local Spark: one profile (test databases on the real MariaDB and PostgreSQL) for the whole test session ------
@pytest.fixture(scope="session")
def lineagelab_profile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Overrides the plugin's profile: the seed's endpoints, answered by test databases of this run."""
    import os
    import shutil
    import tomllib

    import psycopg
    import pymysql

    from lineagelab.profile import init_text, parse
    from lineagelab.spark_local.services import seed

    root = tmp_path_factory.mktemp("spark-project")
    my_db, pg_db = f"ll_t{os.getpid()}_employeedb", f"ll_t{os.getpid()}_redshift"
    text = init_text("123456789012", "us-west-2", "dzd_test", mysql_db=my_db, pg_db=pg_db)
    (root / "lineagelab.toml").write_text(text)
    prof = parse(tomllib.loads(text), root / "lineagelab.toml", root)
    csv = prof.lake / "datazone-123456789012" / "csv"
    csv.mkdir(parents=True)
    for f in ("attendance.csv", "employees.csv"):
        shutil.copy(ROOT / "src" / "lineagelab" / "simulator" / "seed" / f, csv / f)
    seed(prof)
    yield prof
    con = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
    with con.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{my_db}`")
    con.close()
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as pg:
        pg.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
