"""The ingest writer: a thread committing batches in order while the caller's thread prepares the next ones.

DuckDB releases the GIL while it inserts and commits, so on two cores parsing and validating (Python, or worker
processes) overlaps the writes. A bulk ingest merges what queued up into large transactions and refreshes the model
once per many events; the serial path commits each batch with its model.
"""

from __future__ import annotations

import gc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext

import duckdb

from lineagelab.ingest.prepare import Batch
from lineagelab.store import catchup
from lineagelab.store.errors import StrictStop
from lineagelab.store.sqlutil import scalar, transaction, without_vacuum
from lineagelab.store.writes import IngestReport, Writes

_QUEUED, _MERGE_UP_TO = 32, 40_000  # prepared batches waiting for the writer, and at most merged into one commit
_MERGE_AT_LEAST = 10_000  # a commit costs mostly per commit, not per event: a bulk ingest commits at least this many
#: a bulk ingest derives the model once per this many events, and at its end: a first derivation into an empty model
#: (``model.refresh_all``) costs a fraction of refreshing the keys of as many events in a model that has them
_MODEL_EVERY = 100_000


def write(writes: Writes, batches: Iterable[Batch], *, strict: bool, progress: Callable[[int], None] | None,
          bulk: bool) -> IngestReport:
    """Store ``batches`` in order, each in a transaction of its own or, with ``strict``, all in one that the first
    rejected event rolls back. ``bulk``: merged into commits of at least ``_MERGE_AT_LEAST`` events, the model
    refreshed every ``_MODEL_EVERY``. The caller holds the store's locks."""
    report = IngestReport()
    writer = (Writer(writes, report, strict, progress, queued=_QUEUED, merge_up_to=_MERGE_UP_TO,
                     merge_at_least=_MERGE_AT_LEAST, model_every=_MODEL_EVERY)
              if bulk else Writer(writes, report, strict, progress))
    with no_cyclic_gc(), bulk_settings(writes.con, bulk) as settings:
        writer.all_read = settings.all_threads
        with writer:
            for batch in batches:
                writer.put(batch)
    return report


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """A batch holds thousands of parsed documents; the cyclic GC would rescan them all every few hundred
    allocations. Nothing here makes cycles."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class BulkSettings:
    """DuckDB's threads while a bulk ingest commits: one while worker processes keep the cores busy (its parallel
    operators would only add coordination), all again for what is left once the input is read."""

    def __init__(self, con: duckdb.DuckDBPyConnection, wanted: bool) -> None:
        self.con, self.wanted = con, wanted
        self.threads = int(scalar(con, "SELECT current_setting('threads')")) if wanted else 0

    def one_thread(self) -> None:
        if self.wanted:
            self.con.execute("SET threads = 1")

    def all_threads(self) -> None:
        if self.wanted:
            self.con.execute(f"SET threads = {self.threads}")


@contextmanager
def bulk_settings(con: duckdb.DuckDBPyConnection, wanted: bool) -> Iterator[BulkSettings]:
    """While a bulk ingest commits: one DuckDB thread until the input is read (``BulkSettings``), and no vacuum."""
    settings = BulkSettings(con, wanted)
    settings.one_thread()
    try:
        with without_vacuum(con) if wanted else nullcontext():
            yield settings
    finally:
        settings.all_threads()


class Writer:
    """Commits batches on a thread of its own, one at a time, in order; errors surface on the caller's thread."""

    def __init__(self, writes: Writes, report: IngestReport, strict: bool, progress: Callable[[int], None] | None,
                 queued: int = 1, merge_up_to: int = 0, merge_at_least: int = 0, model_every: int = 0):
        self.writes, self.report, self.strict, self.progress = writes, report, strict, progress
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queued)
        self.merge_up_to = merge_up_to
        self.merge_at_least = merge_at_least  # waits for this many events before committing (bulk ingest)
        self.model_every = model_every  # 0: refresh the model with each batch; else once per this many events
        self.all_read: Callable[[], None] | None = None  # told when the last batch has come: nothing else runs now
        self.error: BaseException | None = None
        self.aborted = False  # a strict ingest met a bad event: everything rolls back
        self.stopping = False  # the caller failed (Ctrl-C, a worker died): queued batches are dropped
        self.thread = threading.Thread(target=self._run, name="lineagelab-writer", daemon=True)
        self.finished = threading.Event()  # waited on instead of join(): see __exit__

    def __enter__(self) -> Writer:
        if self.strict:
            self.writes.con.execute("BEGIN")
        self.thread.start()
        return self

    def _run(self) -> None:
        try:
            self._write()
        finally:
            self.finished.set()

    def _write(self) -> None:
        done = False
        behind = 0
        while not done:
            batch = self.queue.get()
            if batch is None:
                if self.all_read is not None:
                    self.all_read()
                break
            # at least merge_at_least events, and what queued up while the last commit ran, go into one
            # transaction. Once the input is all handed out, waiting for more would only leave it all to a last
            # commit that nothing overlaps: what is queued goes now, and the last commit holds what arrives meanwhile
            batches = [batch]
            size = len(batch.ids)
            wait = not batch.input_done
            while size < self.merge_up_to:
                try:
                    more = self.queue.get() if wait and size < self.merge_at_least else self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    done = True
                    if self.all_read is not None:
                        self.all_read()
                    break
                batches.append(more)
                size += len(more.ids)
                wait = wait and not more.input_done
            if self.error is not None or self.aborted or self.stopping:
                continue  # drain
            batch = Batch.merge(batches)
            try:
                stored = self.report.accepted + self.report.duplicates
                self.writes.flush(batch, self.report, own_transaction=not self.strict,
                                  model_too=not self.model_every)
                if self.model_every:
                    behind += len(batch.ids)
                    if behind >= self.model_every:
                        self._catch_up()
                        behind = 0
                if self.progress:  # events now in the store (new or found there), not the rejected ones
                    self.progress(self.report.accepted + self.report.duplicates - stored)
            except BaseException as exc:
                self.error = exc
        if self.model_every and self.error is None and not self.aborted:
            try:
                self._catch_up()
            except BaseException as exc:
                self.error = exc

    def _catch_up(self) -> None:
        con = self.writes.con
        if self.strict:  # inside the ingest's one transaction
            catchup.catch_up_model(con)
            return
        with transaction(con):
            catchup.catch_up_model(con, side=self.writes.facts())

    def put(self, batch: Batch) -> None:
        if self.error is not None:
            raise self.error
        if self.strict and batch.rejected:
            self.abort()
            self.report.rejected.extend(batch.rejected[:1])
            raise StrictStop(str(batch.rejected[0]))
        self.queue.put(batch)

    def abort(self) -> None:
        self.aborted = True

    def __exit__(self, _type: object, exc: BaseException | None, _tb: object) -> None:
        self.stopping = exc is not None
        # Ctrl-C while the last batches commit must not leave this before the writer does: DuckDB refuses a second
        # call on its connection, and leaving with the commit under way aborted the process. The batches not yet
        # begun are dropped; the interrupt is raised once the writer is done. (Not Thread.join: on Python 3.11 a
        # join interrupted by Ctrl-C marks the thread stopped while it still runs, so a second join returns.)
        def end() -> None:
            self.queue.put(None)

        interrupted: KeyboardInterrupt | None = None
        for step in (end, self.finished.wait):
            while True:
                try:
                    step()
                    break
                except KeyboardInterrupt as ki:
                    self.stopping = True
                    interrupted = ki
        self.thread.join()  # it has finished writing; only the thread's own exit is left
        exc = exc or interrupted
        failed = exc is not None or self.error is not None or self.aborted
        if self.strict:
            self.writes.con.execute("ROLLBACK" if failed else "COMMIT")
            if failed:
                self.writes.forget()  # the rolled-back batches' sequence numbers and ids are free again
                self.report.accepted, self.report.accepted_ids = 0, []
        if interrupted is not None:
            raise interrupted
        if self.error is not None and exc is None:
            raise self.error
