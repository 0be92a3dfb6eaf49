"""Parallel bulk ingest: worker processes read, validate and derive facts; the ingesting process only writes.

Parsing, validating, hashing and deriving the facts of an event is as much Python as the DuckDB writer's share, and
one process's threads take turns on the GIL. So inputs are cut into blocks (whole files, or runs of NDJSON lines)
that worker processes turn into ``Batch`` es of Arrow tables; the batches come back in input order and the writer
stores them in that order, several to a transaction (``Store.ingest_batches``). Inputs too small to pay for starting
the workers (~0.2 s of CPU each) are prepared in this process. A rebuild uses the same workers to derive the facts of
stored rows (``Pool.map("facts", …)``).

The workers are plain ``python -m lineagelab.ingest.parallel`` processes fed over pipes, not ``multiprocessing``: its
``spawn`` re-runs the caller's main script in each worker (a script without a ``__main__`` guard would open the
store again), and ``fork`` would copy this process's DuckDB and Arrow threads half-way through whatever they do.
"""

from __future__ import annotations

import collections
import gc
import itertools
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from lineagelab.events.validation import accepts
from lineagelab.ingest import early
from lineagelab.ingest.early import BLOCK_BYTES as BLOCK_BYTES
from lineagelab.ingest.early import PARALLEL_MIN_BYTES as PARALLEL_MIN_BYTES
from lineagelab.ingest.early import default_workers as default_workers
from lineagelab.ingest.memo import prepare_block
from lineagelab.ingest.prepare import Batch, facts_of_rows
from lineagelab.ingest.reader import Block, read_blocks

_IN_FLIGHT = 2  # blocks queued per worker: enough to keep it busy, few enough to bound memory


class WorkerError(Exception):
    """A worker process failed (not an invalid event: those are rejections)."""


#: What a worker can be asked to do: prepare a block of input (ingest), or derive the facts of stored rows (rebuild);
#: each also gets the set of schemas the worker's earlier answers carried (see ``prepare``).
TASKS: dict[str, Callable[[Any, set[str]], Any]] = {"prepare": prepare_block, "facts": facts_of_rows}


class _Worker:
    def __init__(self, proc: subprocess.Popen[bytes] | None = None) -> None:
        self.proc = early.spawn() if proc is None else proc
        self.tasks: queue.Queue[tuple[str, Any] | None] = queue.Queue()
        self.ended = False
        # Writing a task may block until the worker reads it, while it writes its previous result: a thread of
        # its own feeds it, so this process can always read results.
        self.feeder = threading.Thread(target=self._feed, name="lineagelab-feeder", daemon=True)
        self.feeder.start()

    def _feed(self) -> None:
        assert self.proc.stdin is not None
        try:
            while (task := self.tasks.get()) is not None:
                pickle.dump(task, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # the worker died: its result read reports it

    def result(self) -> Any:
        assert self.proc.stdout is not None
        try:
            status, value = pickle.load(self.proc.stdout)
        except (EOFError, pickle.UnpicklingError):  # died before or while answering
            code = self.proc.wait()
            raise WorkerError(f"an ingest worker process exited (code {code}) before answering") from None
        if status != "ok":
            raise WorkerError(f"an ingest worker process failed: {value}")
        return value

    def end(self) -> None:
        """No more tasks: the worker exits once it has answered those queued."""
        if not self.ended:
            self.ended = True
            self.tasks.put(None)

    def close(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        self.end()
        self.feeder.join(timeout=5)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Pool:
    """Worker processes answering tasks in the order given (round robin; each worker answers its own in order)."""

    def __init__(self, workers: int) -> None:
        started = early.take(workers)  # by ``python -m lineagelab ingest`` before its imports, if it did
        self._workers = [_Worker(proc) for proc in started] + [_Worker() for _ in range(workers - len(started))]
        self._pending = 0
        self.all_sent = False  # every item of the current map is in the workers' hands

    def map(self, task: str, items: Iterable[Any]) -> Iterator[Any]:
        """``TASKS[task](item)`` for each item, in order, at most a few items ahead (memory stays bounded). The first
        few go to the workers now, not when first asked for: they work while the caller gets ready (the CLI opens
        the store)."""
        n = len(self._workers)
        items = iter(items)
        self.all_sent = False
        sent = 0
        for item in itertools.islice(items, _IN_FLIGHT * n):
            self._workers[sent % n].tasks.put((task, item))
            sent += 1
        self._pending = sent  # answers never asked for: leaving stops the workers
        return self._answers(task, items, sent)

    def _answers(self, task: str, items: Iterator[Any], sent: int) -> Iterator[Any]:
        n = len(self._workers)
        received = 0
        try:
            for item in items:
                yield self._workers[received % n].result()
                received += 1
                self._workers[sent % n].tasks.put((task, item))
                sent += 1
            for worker in self._workers:  # they exit as they finish, while the caller stores the last answers
                worker.end()
            self.all_sent = True
            while received < sent:
                yield self._workers[received % n].result()
                received += 1
        finally:
            self._pending = sent - received

    def __enter__(self) -> Pool:
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self._workers:
            worker.close(kill=self._pending > 0)  # stopped early (strict ingest, an error): their work is unwanted


class PreparedBatches:
    """The inputs' events as prepared batches, in input order; iterated once. Worker processes, when the input is
    large enough to pay for them, start here (or are adopted: ``early``) and get their first blocks: the CLI makes
    this before it opens the store, so that they work while it does. A context manager: leaving stops workers still
    running."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]], workers: int | None = None) -> None:
        workers = default_workers() if workers is None else workers
        self._blocks = read_blocks(paths, split_bytes=BLOCK_BYTES, spans=True)
        self._head: list[Block] = []
        size = 0
        for block in self._blocks:
            self._head.append(block)
            size += block.size
            if size >= PARALLEL_MIN_BYTES:
                break
        self._pool = Pool(workers) if workers > 1 and size >= PARALLEL_MIN_BYTES else None
        self._sent: collections.deque[Block] = collections.deque()  # blocks in the workers' hands, in order
        self._answers: Iterator[Batch] | None = None
        if self._pool is None:
            early.release()
        else:  # the first blocks go out now (``Pool.map``)
            self._answers = self._pool.map("prepare", self._sending(itertools.chain(self._head, self._blocks)))

    def _sending(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            self._sent.append(block)
            yield block

    def __iter__(self) -> Iterator[Batch]:
        lines = _LineNumbers()
        if self._pool is None or self._answers is None:
            schemas_sent: set[str] = set()
            for block in itertools.chain(self._head, self._blocks):
                yield lines.place(block, prepare_block(block, schemas_sent))
            return
        pool = self._pool
        for batch in self._answers:
            batch.input_done = pool.all_sent
            yield lines.place(self._sent.popleft(), batch)

    def __enter__(self) -> PreparedBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.__exit__(*exc)


def prepared_batches(paths: Iterable[str | os.PathLike[str]], workers: int | None = None) -> Iterator[Batch]:
    """The inputs' events as prepared batches, in input order (``PreparedBatches``, started when first asked)."""
    with PreparedBatches(paths, workers) as batches:
        yield from batches


class _LineNumbers:
    """Counts the lines of a file's blocks as their batches come back in order, so that the rejections of a span
    (which numbers its lines from 1: see ``Block.span``) name the lines of the file."""

    def __init__(self) -> None:
        self.next = 1  # the number of the first line of the next block of the file

    def place(self, block: Block, batch: Batch) -> Batch:
        if block.span is None:
            self.next = (block.first_line or 1) + batch.lines
        else:
            if self.next > 1:
                batch.rejected = [r.moved(block.source, self.next - 1) for r in batch.rejected]
            self.next += batch.lines
        return batch


def _warm() -> None:
    """Load what every task needs before the first one comes: pyarrow (~0.15 s, else imported by the first task's
    tables) and the validator, while the ingesting process still imports itself and opens the store."""
    import pyarrow  # noqa: F401

    accepts("RunEvent")
    gc.freeze()  # modules and the validator: never garbage, never to be scanned again


def _serve(tasks: IO[bytes], results: IO[bytes]) -> None:
    gc.disable()  # a task's thousands of parsed documents make no reference cycles; the cyclic GC only rescans
    _warm()
    schemas_sent: set[str] = set()  # this process serves one ingest or rebuild
    for number in itertools.count():
        try:
            task, item = pickle.load(tasks)
        except Exception:  # end of input, or the ingesting process died mid-message
            return
        answer: tuple[str, Any]
        try:
            answer = ("ok", TASKS[task](item, schemas_sent))
        except Exception as exc:  # reported to the ingesting process, which stops with it
            answer = ("error", f"{type(exc).__name__}: {exc}")
        try:
            pickle.dump(answer, results, protocol=pickle.HIGHEST_PROTOCOL)
            results.flush()
        except OSError:
            return  # the ingesting process is gone
        troubled = answer[0] != "ok" or bool(getattr(answer[1], "rejected", None))
        del answer, item  # freed now, their memory is the next task's (fresh pages cost a fault each)
        # A rejected event's exception can leave a cycle: collect, then freeze what survives (modules, compiled
        # validators) so that the next collection scans only what later tasks make (measured: 10-14 ms a task
        # scanning ~28,000 long-lived objects, ~15 us an event). After the first task, only after a troubled one
        # and every 16th: a collection finding nothing still cost ~1 us an event.
        if number == 0 or troubled or number % 16 == 0:
            gc.collect()
            gc.freeze()


if __name__ == "__main__":
    early.refuse_imports("pandas", "numpy")
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the ingesting process's to handle: it stops us
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the results stream
    _serve(sys.stdin.buffer, protocol)
