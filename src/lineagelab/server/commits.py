"""Group commit through the journal, and the model derived beside it.

Requests hand validated events to one commit thread, which appends whatever has queued up to the store's journal
(one write and one fsync for the whole group, see ``store/journal.py``) and releases the waiting requests: an event
is acknowledged once it is durable. A second thread, the mover, takes the journal over in large pieces: it rotates
it, appends the closed segment to ``raw_events`` in one DuckDB transaction and deletes the segment, at most every
``MOVE_EVERY`` seconds, so DuckDB's fixed cost per transaction is paid for thousands of events at a time. It derives
the model for what was appended (``Store.catch_up``, on a connection of its own) when appends pause, when the
backlog grows past ``DERIVE_BACKLOG``, or when ``sync()`` asks: a query right after a POST sees the event.
"""

from __future__ import annotations

import gc
import logging
import queue
import threading
import time
from concurrent.futures import Future

from lineagelab.ingest.prepare import Pending
from lineagelab.store.journal import Journal, Segment
from lineagelab.store.store import Store

MAX_GROUP = 5000
DERIVE_CHUNK = 5000  # events derived per transaction at most
#: Under load, move the journal into DuckDB at most this often (a sync() does not wait for it)…
MOVE_EVERY = 1.0
#: …and derive the model once appends pause this long, when a sync() asks, or when this many stored events wait
#: for it: deriving during a burst would take the CPU the server needs to accept events.
QUIET = 0.25
DERIVE_BACKLOG = 20_000
COLLECT_EVERY = 5.0

log = logging.getLogger(__name__)


class CommitQueue:
    def __init__(self, store: Store):
        self.store = store
        self.journal = Journal(store.path)
        self.queue: queue.Queue[tuple[list[Pending], Future[set[str]]] | None] = queue.Queue()
        self._journaled: set[str] = set()  # ids acknowledged and not yet in raw_events
        self._ids_lock = threading.Lock()
        self._unmoved: list[Segment] = []
        self._appended = threading.Event()  # set when there may be something to move or derive
        self._urgent = threading.Event()  # set when a sync() waits
        self._progress = threading.Condition()
        self._done_generation = 0  # journal groups moved and derived
        self._derived = store.derived_seq()
        self._error: BaseException | None = None
        self._closing = False
        self.thread = threading.Thread(target=self._run, name="lineagelab-commits", daemon=True)
        self.mover = threading.Thread(target=self._move_loop, name="lineagelab-mover", daemon=True)
        self.thread.start()
        self.mover.start()

    def submit(self, items: list[Pending]) -> set[str]:
        """Block until ``items`` are durable; return the ids that were new."""
        if not items:
            return set()
        fut: Future[set[str]] = Future()
        self.queue.put((items, fut))
        return fut.result()

    def appended(self) -> None:
        """Something appended raw events without ``submit`` (the DataZone API): derive them."""
        self._appended.set()

    def sync(self) -> None:
        """Block until the model reflects every event acknowledged so far."""
        generation = self.journal.generation
        seq = self.store.last_seq()
        with self._progress:
            if self._done_generation < generation or self._derived < seq:
                self._urgent.set()
                self._appended.set()
            while self._done_generation < generation or self._derived < seq:
                if self._error is not None:
                    error, self._error = self._error, None
                    raise error
                self._progress.wait(timeout=1.0)

    def _run(self) -> None:
        while (job := self.queue.get()) is not None:
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
                new = self._journal([p for items, _ in jobs for p in items])
            except BaseException as exc:
                for _, fut in jobs:
                    fut.set_exception(exc)
                continue
            for items, fut in jobs:
                fut.set_result({p.event_id for p in items} & new)

    def _journal(self, items: list[Pending]) -> set[str]:
        unique = list({p.event_id: p for p in items}.values())
        with self._ids_lock:
            unique = [p for p in unique if p.event_id not in self._journaled]
        stored = self.store.stored_ids([p.event_id for p in unique])
        fresh = [p for p in unique if p.event_id not in stored]
        if not fresh:
            return set()
        self.journal.append(fresh)
        ids = {p.event_id for p in fresh}
        with self._ids_lock:
            self._journaled |= ids
        self._appended.set()
        return ids

    def _move(self) -> int:
        """Append the journal to raw_events; return the generation now stored (a failure raises, and the segments
        not stored stay, on disk and here, for the next pass)."""
        segment, generation = self.journal.rotate()
        if segment is not None:
            self._unmoved.append(segment)
        while self._unmoved:
            segment = self._unmoved[0]
            self.store.append(segment.items)
            Journal.drop(segment)
            with self._ids_lock:
                self._journaled.difference_update(p.event_id for p in segment.items)
            self._unmoved.pop(0)
        return generation

    @staticmethod
    def _collect(idle: bool, last: float) -> float:
        """The garbage collection ``serve`` turned off: young generations every few seconds, all when idle."""
        if gc.isenabled():
            return last
        now = time.monotonic()
        if idle:
            gc.collect()
        elif now - last >= COLLECT_EVERY:
            gc.collect(1)
        else:
            return last
        return now

    def _move_loop(self) -> None:
        last_move = last_collect = 0.0
        while True:
            behind = self._done_generation < self.journal.generation or self._derived < self.store.last_seq()
            woke = self._appended.wait(timeout=QUIET if behind else None)
            if woke:
                self._urgent.wait(timeout=max(0.0, last_move + MOVE_EVERY - time.monotonic()))
            urgent, closing = self._urgent.is_set(), self._closing
            self._appended.clear()
            self._urgent.clear()
            try:
                generation = self._move()
                last_move = time.monotonic()
                backlog = self.store.last_seq() - self._derived
                if urgent or closing or not woke or backlog >= DERIVE_BACKLOG:
                    self.store.catch_up(limit=DERIVE_CHUNK)
                    with self._progress:
                        self._done_generation = max(self._done_generation, generation)
                        self._derived = self.store.derived_seq()
                        self._progress.notify_all()
            except BaseException as exc:  # reported to the next sync(); the journal keeps the events
                log.exception("moving or deriving failed")
                with self._progress:
                    self._error = exc
                    self._progress.notify_all()
            if closing:
                self.journal.close()
                return
            last_collect = self._collect(idle=not woke, last=last_collect)

    def close(self) -> None:
        self.queue.put(None)
        self.thread.join(timeout=60)
        self._closing = True
        self._urgent.set()
        self._appended.set()
        self.mover.join(timeout=120)
