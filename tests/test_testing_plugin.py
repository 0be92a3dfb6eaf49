"""The pytest plugin's ``lineage`` fixture redirects s3:// for its own test only (tests run in file order)."""

from __future__ import annotations

from typing import Any

import pytest

from lineagelab.spark_local import redirect

_seen: dict[str, bool] = {}


def test_lineage_redirects_s3_during_its_test(lineage_spark: Any, lineage: Any) -> None:
    assert redirect.active() is not None
    lineage_spark.createDataFrame([(1, "a")], ["id", "v"]).write.mode("overwrite").parquet("s3://plugin/first/")
    assert lineage.last().outputs == {"s3://plugin/first"}
    assert (lineage.lake / "plugin" / "first").is_dir()
    _seen["redirected"] = True


def test_a_later_test_sees_no_redirect(lineage_spark: Any) -> None:
    if not _seen:
        pytest.skip("proves something only after the test above ran in this session")
    assert redirect.active() is None
