"""What ``Store.ingest`` takes: where the events come from; ``read()`` gives them as prepared batches, lazily.

``bulk`` sources (files, batches prepared by worker processes) are committed in large merged transactions with the
model refreshed once per many events; the others commit each batch with its model.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from lineagelab.ingest.parallel import prepared_batches
from lineagelab.ingest.prepare import Batch, prepare
from lineagelab.ingest.reader import RawEvent
from lineagelab.store.writes import BATCH_SIZE


@dataclass(frozen=True)
class Files:
    """Files, directories (recursively) or ``-``, prepared in ``workers`` processes when large enough (default: one
    per core; see ``ingest.parallel``). To start the workers before the store opens, use ``Prepared``."""

    paths: Sequence[str | os.PathLike[str]]
    workers: int | None = None
    bulk: ClassVar[bool] = True

    def read(self) -> Iterator[Batch]:
        return prepared_batches(self.paths, self.workers)


@dataclass(frozen=True)
class Prepared:
    """Batches prepared elsewhere, in order (``ingest.parallel.PreparedBatches``)."""

    batches: Iterable[Batch]
    bulk: ClassVar[bool] = True

    def read(self) -> Iterable[Batch]:
        return self.batches


@dataclass(frozen=True)
class Events:
    """Events as read (``ingest.reader``), validated in this process ``batch_size`` at a time, each batch one
    transaction."""

    events: Iterable[RawEvent]
    batch_size: int = BATCH_SIZE
    bulk: ClassVar[bool] = False

    def read(self) -> Iterator[Batch]:
        return _batches(iter(self.events), self.batch_size)


@dataclass(frozen=True)
class Documents:
    """Event documents built in this process (a Redshift run, a statement log, a Spark app), validated like any;
    rejections name them ``name:event <i>``."""

    docs: Iterable[Any]
    name: str
    bulk: ClassVar[bool] = False

    def read(self) -> Iterator[Batch]:
        events = (RawEvent(self.name, f"event {i}", orjson.dumps(d), d) for i, d in enumerate(self.docs))
        return _batches(events, BATCH_SIZE)


Source = Files | Prepared | Events | Documents


def _batches(events: Iterator[RawEvent], size: int) -> Iterator[Batch]:
    """Prepared batches of ``size`` events, read lazily: an event is parsed only when its batch gets to it."""
    schemas_sent: set[str] = set()
    while (batch := prepare(itertools.islice(events, size), schemas_sent)).read:
        yield batch
