"""A real ``lineagelab serve`` process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    store: Path
    proc: subprocess.Popen[bytes]
    token: str | None = None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@contextmanager
def running_server(store: Path, token: str | None = None, strict: bool = False,
                   env: dict[str, str] | None = None) -> Iterator[Server]:
    """``env``: the server's environment (default: this process's)."""
    port = free_port()
    args = [sys.executable, "-m", "lineagelab", "--store", str(store), "serve", "--port", str(port)]
    if token:
        args += ["--token", token]
    if strict:
        args += ["--strict"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/openapi.json", timeout=1).read()
            break
        except urllib.error.HTTPError:
            break  # any HTTP answer (401 with --token) means it is up
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"server did not start: {err}") from None
            time.sleep(0.1)
    server = Server(url, store, proc, token)
    try:
        yield server
    finally:
        server.stop()
