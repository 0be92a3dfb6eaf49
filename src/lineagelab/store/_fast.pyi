"""Types of the bulk ingest's fast path (``_fast.c``), configured by ``fastpath.py``."""

from collections.abc import Callable
from typing import Any

from lineagelab.store.derive import Facts

def configure(nodes: list[tuple[Any, ...]], route: Callable[[str], int], roots: dict[str, int],
              stable_id: Callable[..., int], masking: Callable[[Any], bool], sha256: Callable[..., Any],
              max_bytes: int) -> None: ...
def run_block(data: bytes, pos: int, facts: Facts, seen: set[str], out: list[Any], text: bytearray,
              offsets: bytearray, /) -> tuple[int, int]: ...
def canonical(text: bytes, sorted: bool = True, /) -> bytes | None: ...
