"""A schemathesis pass over the published OpenAPI document: no input the schema allows may produce a 5xx.

Driven through schemathesis' Python API with Hypothesis (its pytest plugin does not run on pytest 9).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from lineagelab.ingest.reader import read_events
from lineagelab.store.sources import Events
from lineagelab.store.store import Store
from tests.conftest import write_ndjson
from tests.server_fixture import running_server


def test_no_input_the_schema_allows_gives_a_server_error(tmp_path: Path) -> None:
    from lineagelab.simulator.seed_samples import sample_events

    with Store.open(tmp_path / "s.duckdb") as s:  # something to query
        s.ingest(Events(read_events([write_ndjson(tmp_path / "e.ndjson", sample_events())])))
    with running_server(tmp_path / "s.duckdb") as srv:
        schema = schemathesis.openapi.from_url(f"{srv.url}/openapi.json")
        operations = [op.ok() for op in schema.get_all_operations()]
        assert len(operations) >= 10
        checked = []
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def run(case: Any) -> None:
                case.call_and_validate(checks=[not_a_server_error])

            run()
            checked.append(operation.label)
    assert "POST /api/v1/lineage" in checked and "GET /api/v1/viewer/lineage" in checked


def test_schema_lists_every_viewer_route() -> None:
    from lineagelab.server.openapi import openapi_document
    from lineagelab.server.viewer import ROUTES

    assert set(ROUTES) <= set(openapi_document()["paths"])
