"""The lineage store as a sink: events validated and stored like any ingest, in one batch a flush."""

from __future__ import annotations

from lineagelab.events.sinks import Event, Sink
from lineagelab.store.sources import Documents
from lineagelab.store.store import IngestReport, Store


class StoreSink(Sink):
    """Holds events until ``flush`` (or ``close``), then ingests them together; ``report`` adds every flush up.

    Rejected events are reported, not raised: a capture's other events are still worth storing.
    """

    def __init__(self, store: Store, source: str):
        self.store, self.source = store, source
        self.target = f"store:{store.path}"
        self.report = IngestReport()
        self._held: list[Event] = []

    def emit(self, event: Event) -> None:
        self._held.append(event)

    def flush(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        r = self.store.ingest(Documents(held, self.source))
        self.report.accepted += r.accepted
        self.report.duplicates += r.duplicates
        self.report.rejected.extend(r.rejected)
        self.report.accepted_ids.extend(r.accepted_ids)
