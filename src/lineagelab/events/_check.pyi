"""Types of the C pre-check (``_check.c``), configured by ``precheck.py``."""

from collections.abc import Callable
from typing import Any

def configure(nodes: list[tuple[Any, ...]], route: Callable[[str], int], keep: list[Any], /) -> None: ...
def check(node: int, doc: Any, /) -> int: ...
