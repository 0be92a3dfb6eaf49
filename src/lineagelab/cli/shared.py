"""What every command group shares: the consoles, the global options, one-line user errors and their exit codes,
opening the store, and the parsers of options several groups take (times, modes, node names, profiles)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, overload

import typer
from rich.console import Console

if TYPE_CHECKING:
    from datetime import datetime

    from lineagelab.graph.modes import Mode
    from lineagelab.graph.resolve import NodeRef
    from lineagelab.profile import Profile
    from lineagelab.store.store import IngestReport, Store

# Markup off: what these print is mostly data (names, paths, messages quoting values); the few styled lines ask for
# markup and escape what they quote.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

EXIT_USAGE, EXIT_DIFF = 2, 3

MODE_HELP = (
    "latest (default): each job as its most recent run shows it — what the pipeline does now; "
    "cumulative: every edge ever seen. Table and column answers always use the same mode."
)

# Options several query commands take, declared once.
ModeOption = Annotated[str, typer.Option("--mode", help=MODE_HELP)]
AsOfOption = Annotated[str | None, typer.Option("--as-of", help="The graph as it was at this time.")]
TableOrJson = Annotated[str, typer.Option("--format", help="table or json")]


def emit(text: str) -> None:
    """Machine-readable or long plain output, written as it is: rich is slow on the megabytes a large store's
    answers can run to."""
    out.file.write(text if text.endswith("\n") else text + "\n")
    out.file.flush()


class UserError(Exception):
    """An error whose message is all the user needs (printed as one line, exit 2)."""


@dataclass
class Settings:
    store: Path | None = None
    debug: bool = False
    wait: float = 10.0


settings = Settings()


def global_options(
    store: Annotated[
        Path | None,
        typer.Option("--store", envvar="LINEAGELAB_STORE", help="Store file (default: ./.lineagelab/lineage.duckdb)."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show the full trace of an error.")] = False,
    wait: Annotated[float, typer.Option("--wait", help="Seconds to wait for a store another process holds.")] = 10.0,
) -> None:
    settings.store, settings.debug, settings.wait = store, debug, wait


# In a server running a client's command (``remote.py``): the server's store, which ``open_store`` hands out, and
# whether the command may write it.
_held: ContextVar[tuple[Store, bool] | None] = ContextVar("held", default=None)


def serving() -> bool:
    return _held.get() is not None


@contextmanager
def serving_store(store: Store, writes: bool = False) -> Iterator[None]:
    reset = _held.set((store, writes))
    try:
        yield
    finally:
        _held.reset(reset)


def store_path() -> Path:
    from lineagelab.store.store import default_path

    return Path(settings.store or default_path())


@contextmanager
def open_store(read_only: bool) -> Iterator[Store]:
    """The store, opened directly; in a server answering a client's command, the server's own: read-only on this
    thread's cursor, or, for a command ``served`` as writing, the server's ``Store`` itself, whose locks serialise
    the command's writes with the server's (the events of a client go to the collector, see ``store_events``)."""
    from lineagelab.store.store import Store

    held = _held.get()
    if held is not None:
        store, writes = held
        if read_only:
            # this worker thread's own connection: the server's writer commits on ``con``
            yield Store(store.path, store.reader(), read_only=True)
        elif writes:
            yield store  # not closed here: the server's
        else:
            raise UserError("the server does not run commands that write the store")
        return
    with Store.open(settings.store, read_only=read_only, wait=settings.wait) as s:
        for line in s.recovered.lines():
            err.print(f"store: {line}")
        yield s


def stdout_bytes() -> IO[bytes]:
    """Standard output for bytes (an export to ``-``): the client's, when a server runs the command for it."""
    buffer: IO[bytes] = getattr(out.file, "buffer", sys.stdout.buffer)
    return buffer


@dataclass(frozen=True)
class Stored:
    """Where captured events went: ``where`` names the store, the server or the spool file."""

    where: str
    report: IngestReport
    spooled: int = 0


def store_events(docs: list[Any], source: str) -> Stored:
    """Captured events into the store: through the collector of the server holding it, else directly; when neither
    can take them, into a spool file beside the store that the next open stores (the user is told where)."""
    from lineagelab.events.sinks import DeliveryError
    from lineagelab.server import client as remote
    from lineagelab.store import spool
    from lineagelab.store.sources import Documents
    from lineagelab.store.store import IngestReport, StoreError

    path = store_path()
    server = remote.live_server(path)
    if server is not None:
        try:
            return Stored(f"server {server.url} (store {path})", remote.post_events(server, docs, source))
        except DeliveryError as exc:
            reason = f"the server holding it does not answer: {exc}"
    else:
        try:
            with open_store(read_only=False) as store:
                return Stored(f"store {store.path}", store.ingest(Documents(docs, source)))
        except StoreError as exc:
            reason = str(exc)
    kept = spool.write(path, docs)
    err.print(f"warning: {len(docs)} events not stored ({reason}); spooled to {kept}: they are stored the next time "
              "the store is opened")
    return Stored(f"spool {kept}", IngestReport(), len(docs))


def store_home() -> Path:
    """The folder the store lives in (the lake, samples and Spark's scratch go beside it)."""
    return store_path().parent


@overload
def parse_time(value: str, flag: str) -> datetime: ...
@overload
def parse_time(value: str | None, flag: str) -> datetime | None: ...
def parse_time(value: str | None, flag: str) -> datetime | None:
    """An ISO-8601 option value (``None`` when not given); ``flag`` names the option in the error."""
    if value is None:
        return None
    from lineagelab.events.identity import parse_time as parse

    try:
        return parse(value)
    except ValueError:
        raise UserError(f"{flag}: {value!r} is not an ISO-8601 time (e.g. 2024-06-01T10:00:00Z)") from None


def time_range(start: str | None, end: str | None, start_flag: str,
               end_flag: str) -> tuple[datetime | None, datetime | None]:
    """Two time options, refused when the first is later than the second (a reversed range answers nothing)."""
    t1, t2 = parse_time(start, start_flag), parse_time(end, end_flag)
    if t1 is not None and t2 is not None and t1 > t2:
        raise UserError(f"{start_flag} {start} is later than {end_flag} {end}")
    return t1, t2


def parse_mode(mode: str, as_of: str | None) -> Mode:
    from lineagelab.graph.modes import Mode

    try:
        return Mode.parse(mode, parse_time(as_of, "--as-of") if as_of else None)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def resolve_node(con: Any, text: str) -> NodeRef:
    from lineagelab.graph.resolve import AmbiguousNode, NodeNotFound, resolve

    try:
        return resolve(con, text)
    except (NodeNotFound, AmbiguousNode) as exc:
        raise UserError(str(exc)) from None


def load_profile(path: Path | None = None) -> Profile:
    from lineagelab.profile import ProfileError, load

    try:
        return load(path)
    except ProfileError as exc:
        raise UserError(str(exc)) from None


def lake_root() -> Path:
    """The profile's lake when there is a profile file, else ``lake/`` beside the store."""
    from lineagelab.profile import ProfileError, load

    try:
        prof = load()
    except ProfileError:
        prof = None
    if prof is not None and prof.path is not None:
        return Path(prof.lake)
    return store_home() / "lake"


def read_text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text (byte {exc.start})") from None


def key_values(pairs: list[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` options into a dict, naming the flag and the pair that is not one."""
    found: dict[str, str] = {}
    for p in pairs:
        k, eq, v = p.partition("=")
        if not eq or not k:
            raise UserError(f"{flag} {p!r}: expected KEY=VALUE")
        found[k.strip()] = v
    return found
