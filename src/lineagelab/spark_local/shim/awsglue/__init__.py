"""lineagelab's stand-in for AWS Glue's ``awsglue`` library: enough for Glue scripts that use Spark DataFrames.

Anything this shim does not implement fails with :class:`UnsupportedGlueAPI`, naming the call.
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
