"""Sinks on this machine: an NDJSON file, the console, a Python callable."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from openlineage.client.serde import Serde
from openlineage.client.transport.file import FileConfig, FileTransport

from lineagelab.events.sinks import Event, Sink


class FileSink(Sink):
    """Appends one event a line (NDJSON) with openlineage-python's ``FileTransport`` in append mode."""

    def __init__(self, location: str | Path):
        path = Path(location)
        path.parent.mkdir(parents=True, exist_ok=True)  # the transport opens the file, it does not make folders
        self.target = f"file:{path}"
        self._transport = FileTransport(FileConfig(log_file_path=str(path), append=True))

    def emit(self, event: Event) -> None:
        self._transport.emit(event)  # type: ignore[arg-type]  # Serde takes spec dicts as they are


class ConsoleSink(Sink):
    """One event a line on standard output, serialised as openlineage-python's transports serialise it.

    (Its ``ConsoleTransport`` writes to the ``logging`` system at INFO, which a command line does not show.)
    """

    target = "console"

    def __init__(self, stream: IO[str] | None = None):
        self._stream = stream

    def emit(self, event: Event) -> None:
        print(Serde.to_json(event), file=self._stream or sys.stdout, flush=True)


class CallbackSink(Sink):
    """Hands each event to a function (a list's ``append``, a test's collector)."""

    target = "callback"

    def __init__(self, callback: Callable[[Event], object]):
        self._callback = callback

    def emit(self, event: Event) -> None:
        self._callback(event)
