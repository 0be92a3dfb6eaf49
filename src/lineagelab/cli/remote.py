"""One store, many clients: while ``lineagelab serve`` holds the store, commands run in the server and captured
events go to its collector.

A command wrapped by ``served`` asks the server (found from the store's server file) to run the same function on its
store and prints the answer it rendered, so the output is the one direct access gives; ``call`` does the same for a
served function another command uses (``demo``). The request carries the client's AWS settings and profile location
(``ClientEnvironment``), which the command uses instead of the server's. ``answer`` is the server's side, wired into
the server by ``cli/serve.py``.
"""

from __future__ import annotations

import functools
import io
import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from lineagelab.cli import shared
from lineagelab.server.client import Server, live_server

if TYPE_CHECKING:
    from lineagelab.store.store import Store

F = TypeVar("F", bound=Callable[..., None])


@dataclass(frozen=True)
class Command:
    fn: Callable[..., None]
    writes: bool  # in the server, ``open_store(read_only=False)`` gives it the server's own store


#: The commands a client may ask a server to run, by name: only what ``served`` wrapped. Both sides register them
#: when they import the CLI.
COMMANDS: dict[str, Command] = {}


def _name(fn: Callable[..., None]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def served(fn: F, writes: bool = False) -> F:
    """``fn`` (a command) run by the server holding the store, when one does. ``writes``: it writes the store (the
    server runs it on its own ``Store``, whose locks serialise it with the server's writes), else it only reads."""
    name = _name(fn)
    COMMANDS[name] = Command(fn, writes)

    @functools.wraps(fn)
    def run(**kwargs: Any) -> None:
        _dispatch(name, COMMANDS[name], kwargs)

    return run  # type: ignore[return-value]


def call(fn: Callable[..., None], **kwargs: Any) -> None:
    """``fn``, a function ``served`` registered, run as its command runs: here, or by the server holding the
    store."""
    name = _name(fn)
    command = COMMANDS.get(name)
    if command is None or command.fn is not fn:
        raise RuntimeError(f"{name} is not a served command")
    _dispatch(name, command, kwargs)


def _dispatch(name: str, command: Command, kwargs: dict[str, Any]) -> None:
    server = None if shared.serving() else live_server(shared.store_path())
    if server is None:
        command.fn(**kwargs)
        return
    _ask(server, name, kwargs, command.writes)


# -- the client's environment -------------------------------------------------------------------------------------
_PROFILE = "LINEAGELAB_PROFILE"
#: Variables naming files: made absolute, as the server's working directory is not the client's.
_PATHS = frozenset({"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                    _PROFILE})


def _forwarded(name: str) -> bool:
    """The client's, not the server's: AWS's settings (profile, region, credentials, endpoints, config files…) and
    the project profile's location. Nothing else: a client cannot set the server's other variables."""
    return name.startswith("AWS_") or name == _PROFILE


@dataclass(frozen=True)
class ClientEnvironment:
    """What a command the server runs for a client takes from the client: its ``AWS_*`` variables and
    ``$LINEAGELAB_PROFILE`` (``variables``: credentials among them, so never logged nor stored, and kept out of
    ``repr``), and the folder its ``./lineagelab.toml`` would be found in."""

    variables: Mapping[str, str] = field(repr=False)
    workdir: str

    def to_json(self) -> dict[str, Any]:
        return {"variables": dict(self.variables), "workdir": self.workdir}

    @classmethod
    def from_json(cls, doc: Any) -> ClientEnvironment | None:
        """The environment a request carries; None when it carries none (or not one this reads)."""
        if not isinstance(doc, dict) or not isinstance(doc.get("workdir"), str) or \
                not isinstance(doc.get("variables"), dict):
            return None
        variables = {k: v for k, v in doc["variables"].items()
                     if isinstance(k, str) and isinstance(v, str) and _forwarded(k)}
        return cls(variables, doc["workdir"])


def client_environment() -> ClientEnvironment:
    """This process's AWS settings and profile location, as a command run here would use them."""
    variables = {}
    for name, value in os.environ.items():
        if _forwarded(name):
            # botocore expands ~ itself (lineagelab's profile path is taken as it is)
            absolute = name in _PATHS and value and not (value.startswith("~") and name != _PROFILE)
            variables[name] = os.path.abspath(value) if absolute else value
    return ClientEnvironment(variables, os.getcwd())


@contextmanager
def applied(env: ClientEnvironment | None) -> Iterator[None]:
    """The client's variables in place of the server's while one command runs (``answer`` runs one at a time, and
    the server's own threads read none of them): those it lacks unset, all restored afterwards."""
    from lineagelab import profile

    if env is None:
        yield
        return
    wanted = dict(env.variables)
    # only what differs is touched: os.environ is the process's, and most commands need no change at all
    saved = {name: os.environ.get(name) for name in {*os.environ, *wanted}
             if _forwarded(name) and os.environ.get(name) != wanted.get(name)}
    for name in saved:
        if name in wanted:
            os.environ[name] = wanted[name]
        else:
            del os.environ[name]
    reset = profile.workdir.set(Path(env.workdir))
    try:
        yield
    finally:
        profile.workdir.reset(reset)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# -- asking the server, and answering ------------------------------------------------------------------------------
def _ask(server: Server, name: str, kwargs: dict[str, Any], writes: bool) -> None:
    import requests

    body: dict[str, Any] = {"command": name, "kwargs": {k: _encode(v) for k, v in kwargs.items()},
                            "width": shared.out.width, "terminal": shared.out.is_terminal,
                            "environment": client_environment().to_json()}
    headers = {"Authorization": f"Bearer {server.token}"} if server.token else {}
    # a rebuild or a replay takes as long as it takes (the server finishes it even if this client stops waiting)
    timeout: float | tuple[float, None] = (10.0, None) if writes else 600.0
    try:
        resp = requests.post(f"{server.url}/api/v1/cli", json=body, headers=headers, timeout=timeout)
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


_capturing = threading.Lock()  # the consoles and the environment are shared: one command runs at a time


def answer(store: Store, asked: dict[str, Any]) -> dict[str, Any]:
    """Run the command a client asked for on the server's store, with the client's environment; its exit code and
    what it printed."""
    command = COMMANDS.get(str(asked.get("command")))
    if command is None:
        return {"code": shared.EXIT_USAGE, "stdout": "", "stderr": f"error: the server does not run "
                                                                  f"{asked.get('command')!r}\n"}
    kwargs = {k: _decode(v) for k, v in dict(asked.get("kwargs") or {}).items()}
    environment = ClientEnvironment.from_json(asked.get("environment"))
    with _capturing, _captured(int(asked.get("width") or 80), bool(asked.get("terminal"))) as (stdout, stderr), \
            shared.serving_store(store, command.writes), applied(environment):
        code = _run(command.fn, kwargs)
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

