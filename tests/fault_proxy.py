"""A real HTTP proxy on loopback that injects faults between a client and the local server."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# plan(request_number) -> None (forward), "500", "429", "drop-after" (forward, then close without answering),
# "slow" (forward, answer after a delay)
Plan = Callable[[int], str | None]


@contextmanager
def fault_proxy(upstream: str, plan: Plan, delay: float = 0.3) -> Iterator[tuple[str, list[str]]]:
    target = urlsplit(upstream)
    counter = {"n": 0}
    lock = threading.Lock()
    log: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            with lock:
                counter["n"] += 1
                n = counter["n"]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            action = plan(n) if self.command == "POST" else None
            log.append(f"{n} {self.command} {action}")
            if action in ("500", "429"):
                code = int(action)
                payload = b'{"message": "injected fault"}'
                self.send_response(code)
                self.send_header("x-amzn-ErrorType",
                                 "InternalServerException" if code == 500 else "ThrottlingException")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            if action == "drop-after":  # the server did the work; the client never hears of it
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if action == "slow":
                time.sleep(delay)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()
