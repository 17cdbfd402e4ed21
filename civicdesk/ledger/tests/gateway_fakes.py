"""A fake gateway: an HTTP server on 127.0.0.1 in a thread (never the internet).

It records every request and answers from routes: ``fake.route("POST", "/eng/query/validate",
200, b"VALID", "text/plain")`` or a function of the request returning (status, body,
content type). Unrouted requests get 404. ``closed_url()`` is an address where nothing listens,
for network failures.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), "")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode(), keep_blank_values=True, strict_parsing=True)

    def json(self) -> dict:
        return json.loads(self.body)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up (the timeout tests) is expected; stay quiet about it."""


Answer = tuple[int, bytes | str | dict, str]
Responder = Callable[[Received], Answer]


class FakeGatewayServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.routes: dict[tuple[str, str], Responder] = {}
        self.prefix_routes: list[tuple[str, str, Responder]] = []
        self.delay = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Received(
                    method=method,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=dict(self.headers.items()),
                    body=body,
                )
                fake.received.append(request)
                if fake.delay:
                    time.sleep(fake.delay)
                status, payload, content_type = fake.answer(request)
                if isinstance(payload, dict):
                    data = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    data = payload.encode()
                else:
                    data = payload
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def route(
        self,
        method: str,
        path: str,
        status: int | Responder = 200,
        body: bytes | str | dict = b"",
        content_type: str = "application/json",
        *,
        prefix: bool = False,
    ) -> None:
        responder = status if callable(status) else (lambda _r: (status, body, content_type))
        if prefix:
            self.prefix_routes.insert(0, (method, path, responder))
        else:
            self.routes[(method, path)] = responder

    def answer(self, request: Received) -> Answer:
        responder = self.routes.get((request.method, request.path))
        if responder is None:
            responder = next(
                (
                    r
                    for m, p, r in self.prefix_routes
                    if m == request.method and request.path.startswith(p)
                ),
                None,
            )
        if responder is None:
            return 404, {"error": "not found"}, "application/json"
        return responder(request)

    def start(self) -> FakeGatewayServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
