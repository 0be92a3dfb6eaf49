"""One store, many clients: while ``lineagelab serve`` holds the store, queries run in the server and captured events
go to its collector.

A query command wrapped by ``served`` asks the server (found from the store's server file) to run the same function on
its store and prints the answer it rendered, so the output is the one direct access gives. ``answer`` is the server's
side, wired into the server by ``cli/serve.py``.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from lineagelab.cli import shared
from lineagelab.server.client import Server, live_server

if TYPE_CHECKING:
    from lineagelab.store.store import Store

F = TypeVar("F", bound=Callable[..., None])

#: The commands a client may ask a server to run, by name: only what ``served`` wrapped.
COMMANDS: dict[str, Callable[..., None]] = {}


def served(fn: F) -> F:
    """``fn`` (a query command) run by the server holding the store, when one does."""
    name = f"{fn.__module__}.{fn.__qualname__}"
    COMMANDS[name] = fn

    @functools.wraps(fn)
    def run(**kwargs: Any) -> None:
        server = None if shared.serving() else live_server(shared.store_path())
        if server is None:
            fn(**kwargs)
            return
        _ask(server, name, kwargs)

    return run  # type: ignore[return-value]


def _ask(server: Server, name: str, kwargs: dict[str, Any]) -> None:
    import requests

    body: dict[str, Any] = {"command": name, "kwargs": {k: _encode(v) for k, v in kwargs.items()},
            "width": shared.out.width, "terminal": shared.out.is_terminal}
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    try:
        resp = requests.post(f"{server.url}/api/v1/cli", json=body, headers=headers, timeout=600)
    except requests.RequestException as exc:
        raise shared.UserError(f"the server holding the store ({server.url}) does not answer: {exc}") from None
    if resp.status_code != 200:
        raise shared.UserError(f"the server holding the store ({server.url}) answered {resp.status_code}: "
                               f"{resp.text[:300]}")
    got = resp.json()
    shared.out.file.flush()
    sys.stdout.buffer.write(got["stdout"].encode("utf-8", "surrogateescape"))
    sys.stdout.buffer.flush()
    sys.stderr.write(got["stderr"])
    sys.stderr.flush()
    if got["code"]:
        raise typer.Exit(got["code"])


def _encode(value: Any) -> Any:
    """Paths made absolute (the server's working directory is not the client's) and tagged to come back as paths."""
    if isinstance(value, Path):
        return {"path": str(value) if str(value) == "-" else str(value.absolute())}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"path"}:
        return Path(value["path"])
    return value


_capturing = threading.Lock()  # the consoles are shared: one query renders at a time


def answer(store: Store, asked: dict[str, Any]) -> dict[str, Any]:
    """Run the command a client asked for on the server's store; its exit code and what it printed."""
    fn = COMMANDS.get(str(asked.get("command")))
    if fn is None:
        return {"code": shared.EXIT_USAGE, "stdout": "", "stderr": f"error: the server does not run "
                                                                  f"{asked.get('command')!r}\n"}
    kwargs = {k: _decode(v) for k, v in dict(asked.get("kwargs") or {}).items()}
    with _capturing, _captured(int(asked.get("width") or 80), bool(asked.get("terminal"))) as (stdout, stderr), \
            shared.serving_store(store):
        code = _run(fn, kwargs)
        shared.out.file.flush()
        return {"code": code, "stdout": stdout.getvalue().decode("utf-8", "surrogateescape"),
                "stderr": stderr.getvalue()}


def _run(fn: Callable[..., None], kwargs: dict[str, Any]) -> int:
    """The command's exit code, its errors printed as ``main`` prints them."""
    from lineagelab.store.store import StoreError

    try:
        fn(**kwargs)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except shared.UserError as exc:
        shared.err.print(f"error: {exc}")
        return shared.EXIT_USAGE
    except StoreError as exc:
        shared.err.print(f"error: {exc}")
        return 1
    except Exception as exc:
        shared.err.print(f"error: {type(exc).__name__}: {exc} (run with --debug for the trace)")
        return 1
    return 0


@contextmanager
def _captured(width: int, terminal: bool) -> Iterator[tuple[io.BytesIO, io.StringIO]]:
    """The shared consoles writing into buffers, as wide as the client's and a terminal when its is."""
    saved = [(c, c.file, c._width, c._force_terminal) for c in (shared.out, shared.err)]
    stdout, stderr = io.BytesIO(), io.StringIO()
    shared.out.file = io.TextIOWrapper(stdout, encoding="utf-8", write_through=True)
    shared.out.width, shared.out._force_terminal = width, terminal
    shared.err.file, shared.err._force_terminal = stderr, False
    try:
        yield stdout, stderr
    finally:
        shared.out.file.flush()
        for console, file, w, term in saved:
            console.file, console._width, console._force_terminal = file, w, term

