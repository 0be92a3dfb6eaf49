"""The store's errors, phrased for the user."""

from __future__ import annotations


class StoreError(Exception):
    """A problem with the store file itself, phrased for the user."""


class StrictStop(StoreError):
    """``strict`` ingest met an invalid event: nothing of that ingest was stored."""
