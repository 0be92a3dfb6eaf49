"""lineagelab's stand-in for AWS Glue's ``awsglue`` library, over local Spark DataFrames.

GlueContext readers and writers, DynamicFrame and the common transforms run as Spark DataFrame operations, so the
lineage capture sees real plans. Anything this shim does not implement fails with :class:`UnsupportedGlueAPI`,
naming the call.
"""

from __future__ import annotations

from typing import Any


class UnsupportedGlueAPI(NotImplementedError):
    def __init__(self, api: str):
        super().__init__(f"awsglue API {api} is not supported by lineagelab's local Glue shim "
                         "(use Spark DataFrames, or open an issue naming this API)")
        self.api = api


class _Unsupported:
    """An object whose every attribute is an unsupported API, named in full."""

    def __init__(self, prefix: str):
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Unsupported(f"{self._prefix}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise UnsupportedGlueAPI(self._prefix)


def _keep_running_context() -> None:
    """Glue scripts start with ``sc = SparkContext()``; locally the job's context is already running, so that
    call hands it back instead of failing (only the no-argument form, as Glue scripts write it)."""
    from pyspark import SparkContext

    if getattr(SparkContext, "_lineagelab_shared", False):
        return
    orig_new, orig_init = SparkContext.__new__, SparkContext.__init__

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        active = SparkContext._active_spark_context
        if active is not None and not args and not kwargs:
            return active
        return orig_new(cls) if orig_new is object.__new__ else orig_new(cls, *args, **kwargs)

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        if self is SparkContext._active_spark_context and not args and not kwargs:
            return
        orig_init(self, *args, **kwargs)

    SparkContext.__new__ = new  # type: ignore[assignment]
    SparkContext.__init__ = init  # type: ignore[method-assign]
    SparkContext._lineagelab_shared = True  # type: ignore[attr-defined]


_keep_running_context()

from awsglue.dynamicframe import DynamicFrame  # noqa: E402 - Glue's package exports it; it imports the above

__all__ = ["DynamicFrame", "UnsupportedGlueAPI"]
