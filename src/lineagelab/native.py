"""The C parts (validation pre-check, fact derivation, the bulk ingest's fast path), where they were built.

Each is optional: without a C compiler the package installs and runs the Python paths, slower; with
``LINEAGELAB_PURE_PYTHON`` set it runs them anyway, to compare. Each is configured once, under a lock: the server's
request threads may ask at the same time, and configuring again would swap a module's tables under a thread using them.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable
from types import ModuleType
from typing import TypeVar

T = TypeVar("T")


def module(name: str) -> ModuleType | None:
    """The extension module ``name`` (``lineagelab.store._fast``), or None where it is not built or not wanted."""
    if os.environ.get("LINEAGELAB_PURE_PYTHON"):
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def once(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call only, under a lock; its result on every call."""
    lock = threading.Lock()
    built: list[T] = []

    def get() -> T:
        if not built:
            with lock:
                if not built:
                    built.append(build())
        return built[0]

    return get
