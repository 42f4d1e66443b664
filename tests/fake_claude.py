"""A local stand-in for the Messages API (127.0.0.1, a thread), for tests that run the CLI or a subprocess.

The real `anthropic` client talks to it through ANTHROPIC_BASE_URL; nothing leaves the machine.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class FakeClaude:
    """Records requests (headers, JSON body) and answers with `respond(body) -> (status, json)`."""

    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status, payload = fake.respond(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@contextmanager
def fake_claude(respond: Responder) -> Iterator[FakeClaude]:
    """Serve until the block ends."""
    fake = FakeClaude(respond)
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
