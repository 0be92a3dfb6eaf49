"""Events that could not be stored when they were captured (the store held, its server not answering), kept in
NDJSON files beside the store until ``Store.open`` stores them: captured lineage is never dropped."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson


def folder(store: Path) -> Path:
    return store.with_name(store.name + ".spool")


def files(store: Path) -> list[Path]:
    """The spooled files waiting for ``store``, oldest first (their names start with the time they were written)."""
    where = folder(store)
    return sorted(where.glob("*.ndjson")) if where.is_dir() else []


def write(store: Path, docs: Iterable[Any]) -> Path:
    """Append ``docs`` to a new spool file (one event a line) and return it; written under a temporary name and
    renamed, so an open never stores half a file."""
    where = folder(store)
    where.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S')}-{time.time_ns() % 10**9:09d}-{os.getpid()}.ndjson"
    tmp = where / (name + ".part")
    with tmp.open("wb") as fh:
        for d in docs:
            fh.write(orjson.dumps(d) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    final = where / name
    tmp.rename(final)
    return final
