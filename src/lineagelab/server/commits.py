"""Group commit: requests hand validated events to one writer thread, which commits whatever has queued up in one
transaction and then releases every waiting request. A request is answered only after its events are committed."""

from __future__ import annotations

import queue
import threading
from concurrent.futures import Future

from lineagelab.store.store import Pending, Store

MAX_GROUP = 5000


class CommitQueue:
    def __init__(self, store: Store):
        self.store = store
        self.queue: queue.Queue[tuple[list[Pending], Future[set[str]]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="lineagelab-commits", daemon=True)
        self.thread.start()

    def submit(self, items: list[Pending]) -> set[str]:
        """Block until ``items`` are committed; return the ids that were new."""
        if not items:
            return set()
        fut: Future[set[str]] = Future()
        self.queue.put((items, fut))
        return fut.result()

    def _run(self) -> None:
        while True:
            job = self.queue.get()
            if job is None:
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
            try:
                new = self.store.commit_prepared([p for items, _ in jobs for p in items])
            except BaseException as exc:
                for _, fut in jobs:
                    fut.set_exception(exc)
                continue
            for items, fut in jobs:
                fut.set_result({p.event_id for p in items} & new)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=30)
