"""A failed lineage assertion starts at the user's test: the plugin's helper frames are hidden."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

TEST = '''
from lineagelab.testing.lineage import WriteLineage

EVENT = {"eventType": "COMPLETE", "job": {"namespace": "n", "name": "j"}, "inputs": [],
         "outputs": [{"namespace": "s3://shop", "name": "totals", "facets": {"columnLineage": {"fields": {
             "total": {"inputFields": [{"namespace": "s3://shop", "name": "orders.csv", "field": "amount",
                                        "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION"}]}]}}}}}]}


def test_wrong_source():
    run = WriteLineage(EVENT)
    run.assert_column("total", "orders.csv::price", "AGGREGATION")


def test_wrong_column():
    WriteLineage(EVENT).sources("totl")


def test_wrong_dependency():
    WriteLineage(EVENT).assert_dependency("orders.csv", "JOIN")
'''


def test_assertion_helpers_hide_their_frames(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:lineagelab")
    result.assert_outcomes(failed=3)
    text = result.stdout.str()
    assert 'run.assert_column("total", "orders.csv::price", "AGGREGATION")' in text
    assert "AssertionError: column 'total': no DIRECT/AGGREGATION edge from orders.csv::price" in text
    assert "no column lineage for output column 'totl'" in text
    assert "no INDIRECT/JOIN dependency on orders.csv" in text
    assert "lineagelab/testing/lineage.py" not in text and "raise AssertionError" not in text
    # each failure's one frame is the user's line
    assert [line for line in text.splitlines() if line.startswith("test_user.py:")] == \
        ["test_user.py:11: AssertionError", "test_user.py:15: AssertionError", "test_user.py:19: AssertionError"]
