"""Starting a bulk ingest's worker processes before the command line has imported itself.

A worker imports for ~0.1 s before it prepares anything, and the CLI's own imports (typer, rich, the command modules)
take as long again: ``python -m lineagelab ingest FILE…`` starts them first (``start``, standard library only) and
``parallel.Pool`` adopts them (``take``). Workers nobody adopts read the end of their input and exit.
"""

from __future__ import annotations

import os
import subprocess
import sys

#: NDJSON inputs are cut into blocks of about this size (~800 events of 5 KB): each is one batch.
BLOCK_BYTES = 4 * 1024 * 1024
#: Below this much input the workers are not started.
PARALLEL_MIN_BYTES = 3 * BLOCK_BYTES

_early: list[subprocess.Popen[bytes]] = []


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def spawn() -> subprocess.Popen[bytes]:
    """One worker process (``python -m lineagelab.ingest.parallel``), fed and answering over pipes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return subprocess.Popen([sys.executable, "-m", "lineagelab.ingest.parallel"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)


class _Refused:
    """Refuses to import some packages an ingest never uses but would pay for: pyarrow imports pandas, if it can, on
    its first conversion of Python values (to ask whether they are pandas objects: ~0.3 s of CPU), and numpy as it
    is imported (~0.1 s); a worker process needs neither."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"an ingest does not use {name}", name=name)


def refuse_imports(*names: str) -> None:
    """This process never imports ``names`` (see ``_Refused``); those imported already stay."""
    names = tuple(n for n in names if n not in sys.modules)
    if names:
        sys.meta_path.insert(0, _Refused(names))  # type: ignore[arg-type]


def _command(argv: list[str]) -> str | None:
    """The command ``argv`` runs (its first word after the global options)."""
    i = 0
    while i < len(argv):
        if argv[i] in ("--store", "--wait"):
            i += 2
        elif argv[i].startswith("-"):
            i += 1
        else:
            return argv[i]
    return None


def start(argv: list[str]) -> None:
    """Start the workers now if ``argv`` (the command line's arguments) is an ingest of plain files large enough
    for them; anything unusual (standard input, a directory, --server, --workers 1, --help) leaves it to ``Pool``."""
    if _command(argv) != "ingest" or _early:
        return
    refuse_imports("pandas")  # the ingesting process: numpy is DuckDB's to import if it wants to
    rest = argv[argv.index("ingest") + 1:]
    workers, size = default_workers(), 0
    options_with_value = {"--token"}
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("--server") or arg in ("--help", "-"):
            return
        if arg.startswith("--workers"):
            value = arg.partition("=")[2] if "=" in arg else (rest[i + 1] if i + 1 < len(rest) else "")
            i += 1 if "=" in arg else 2
            if not value.isdigit():
                return
            workers = int(value)
            continue
        if arg in options_with_value:
            i += 2
            continue
        if not arg.startswith("-"):
            if not os.path.isfile(arg):
                return
            size += os.path.getsize(arg)
        i += 1
    if workers > 1 and size >= PARALLEL_MIN_BYTES:
        _early.extend(spawn() for _ in range(workers))


def take(workers: int) -> list[subprocess.Popen[bytes]]:
    """The workers ``start`` started, if it started ``workers`` of them (else they are told to end)."""
    procs = _early[:]
    _early.clear()
    if len(procs) == workers:
        return procs
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.close()  # end of input: it exits
    return []


def release() -> None:
    """Tell any workers ``start`` started to end (the input was too small for them)."""
    take(0)
