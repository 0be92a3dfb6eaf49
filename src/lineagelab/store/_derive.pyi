"""Types of the C fact derivation (``_derive.c``); ``derive.py`` holds the reference it is tested against."""

from collections.abc import Callable
from typing import Any

def derive(facts: Any, event_id: str, kind: str, doc: dict[str, Any], event_time: int | None, /) -> None: ...
def flatten_fields(fields: Any, /) -> list[tuple[str, Any, Any]]: ...
def configure(*, stable_id: Callable[..., int], schema: Callable[[Any, list[Any]], str],
              text: Callable[[Any], str | None], masking: Callable[[Any], bool],
              lineage_key: Callable[[dict[str, Any]], bytes]) -> None: ...
