"""The bulk ingest's fast path: NDJSON lines to raw rows and facts in C (``_fast.c``), without Python documents.

A worker spent about two thirds of its time building each event as Python objects (orjson), walking them three times
(validation, content id, facts) and freeing them. ``_fast`` parses a line with yyjson, walks the spec's compiled
schema nodes (``precheck.compiled``, the same table as the validation pre-check), writes the canonical JSON of the
content id and of schema hashes, and appends the same fact rows ``derive`` would. It settles only what it reproduces
exactly; ``prepare`` sends every other line down the reference path (orjson, ``validate_event``, ``derive``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from lineagelab.events.identity import stable_id
from lineagelab.events.precheck import compiled
from lineagelab.ingest import column_lineage
from lineagelab.ingest.reader import MAX_EVENT_BYTES
from lineagelab.native import module, once


def native() -> Any:
    """The configured ``_fast`` module (built once), or None where it did not build or ``LINEAGELAB_PURE_PYTHON`` is
    set."""
    return _native()


def _build() -> Any:
    fast = module("lineagelab.store._fast")
    if fast is not None:
        c = compiled()
        fast.configure(c.nodes, c.route, c.roots, stable_id, column_lineage._masking, hashlib.sha256, MAX_EVENT_BYTES)
    return fast


_native = once(_build)
