"""Shared fixtures: the official spec from ../shared (falling back to the bundled copy), sample events, stores."""

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
    with Store(tmp_path / "lineage.duckdb") as s:
        yield s


def write_ndjson(path: Path, docs: list[Any]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())
