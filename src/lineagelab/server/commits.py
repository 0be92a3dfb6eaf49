"""Group commit, then derive: requests hand validated events to one writer thread, which appends whatever has
queued up to the raw events in one transaction and releases the waiting requests (an event is acknowledged once it
is durably stored). When appends pause for ``QUIET`` seconds, and at least every ``DERIVE_EVERY`` seconds under
steady load, the same thread derives the model for what was appended (``Store.derive_pending``), in one batch.
``sync()`` waits until the model has caught up, so a query right after a POST sees the event."""

from __future__ import annotations

import queue
import threading
import time
from concurrent.futures import Future

from lineagelab.store.store import Pending, Store

MAX_GROUP = 5000
QUIET = 0.25  # derive once appends have paused this long…
DERIVE_EVERY = 2.0  # …and at least this often under steady load
DERIVE_CHUNK = 2000  # events derived per hold of the store's lock

_SYNC: list[Pending] = []


class CommitQueue:
    def __init__(self, store: Store):
        self.store = store
        self.queue: queue.Queue[tuple[list[Pending], Future[set[str]]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="lineagelab-commits", daemon=True)
        self.thread.start()

    def submit(self, items: list[Pending]) -> set[str]:
        """Block until ``items`` are durably stored; return the ids that were new."""
        if not items:
            return set()
        fut: Future[set[str]] = Future()
        self.queue.put((items, fut))
        return fut.result()

    def sync(self) -> None:
        """Block until the model reflects every acknowledged event."""
        fut: Future[set[str]] = Future()
        self.queue.put((_SYNC, fut))
        fut.result()

    def _derive_all(self) -> None:
        """Derive what was stored before this pass began; events arriving meanwhile wait for the next pass
        (chasing them would derive one event at a time and hold appends up each time)."""
        watermark = self.store.last_seq()
        while self.store.derive_pending(limit=DERIVE_CHUNK, up_to=watermark):
            pass  # the store's lock is free between chunks, so a waiting append goes in

    def _run(self) -> None:
        last_derive = time.monotonic()
        while True:
            try:
                job = self.queue.get(timeout=QUIET)
            except queue.Empty:
                now = time.monotonic()
                if now - self.store.last_append >= QUIET or now - last_derive >= DERIVE_EVERY:
                    self._derive_all()
                    last_derive = time.monotonic()
                continue
            if job is None:
                self._derive_all()
                return
            jobs = [job]
            size = len(job[0])
            while size < MAX_GROUP:
                try:
                    nxt = self.queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.queue.put(None)
                    break
                jobs.append(nxt)
                size += len(nxt[0])
            syncs = [fut for items, fut in jobs if items is _SYNC]
            writes = [(items, fut) for items, fut in jobs if items is not _SYNC]
            try:
                new = self.store.append_raw([p for items, _ in writes for p in items]) if writes else set()
            except BaseException as exc:
                for _, fut in writes:
                    fut.set_exception(exc)
                new = set()
                writes = []
            for items, fut in writes:
                fut.set_result({p.event_id for p in items} & new)
            if syncs or time.monotonic() - last_derive > DERIVE_EVERY:
                try:
                    self._derive_all()
                    for fut in syncs:
                        fut.set_result(set())
                except BaseException as exc:
                    for fut in syncs:
                        fut.set_exception(exc)
                last_derive = time.monotonic()

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=60)
