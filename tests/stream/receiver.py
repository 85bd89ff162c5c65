"""A real local HTTP server standing in for a webhook receiver, scripted to fail or misbehave.

Besides failing on demand it can answer late (``delay``), answer with a large body
(``body_bytes``) or trickle its body a byte at a time (``trickle_seconds``), counting the body
bytes it managed to hand to the socket before the client hung up (``sent_bytes``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.waiting import eventually

CHUNK = 64 * 1024


@dataclass
class Request:
    at: float
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    url: str
    fail_next: int = 0
    """How many upcoming requests to answer with 500."""
    always_fail: bool = False
    delay: float = 0.0
    """Seconds to wait before answering."""
    body_bytes: int = 0
    """Size of the answer's body (zeros, with Content-Length)."""
    trickle_seconds: float | None = None
    """When set, the body is sent one byte per this many seconds."""
    redirect_to: str | None = None
    """When set, every answer is a 307 to this URL."""
    sent_bytes: int = 0
    """Answer body bytes written before the client closed the connection."""
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        if not eventually(predicate, timeout):
            raise AssertionError(f"receiver timed out; got {len(self.requests)} requests")


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                failing = state.always_fail or state.fail_next > 0
                if state.fail_next > 0:
                    state.fail_next -= 1
                status = 500 if failing else 307 if state.redirect_to else 200
                state.requests.append(Request(time.monotonic(), dict(self.headers), body, status))
            if state.delay:
                time.sleep(state.delay)
            try:
                self.send_response(status)
                if state.redirect_to:
                    self.send_header("Location", state.redirect_to)
                self.send_header("Content-Length", str(state.body_bytes))
                self.end_headers()
                self._send_body()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped reading and closed: what a bounded client does

        def _send_body(self) -> None:
            remaining = state.body_bytes
            while remaining > 0:
                if state.trickle_seconds is not None:
                    piece = b"x"
                    time.sleep(state.trickle_seconds)
                else:
                    piece = bytes(min(CHUNK, remaining))
                self.wfile.write(piece)
                self.wfile.flush()
                remaining -= len(piece)
                with state.lock:
                    state.sent_bytes += len(piece)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    # A short poll interval: shutdown() waits up to one interval, and tests use many receivers.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
