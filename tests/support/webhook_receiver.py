"""A webhook receiver on localhost that verifies every request with the Standard Webhooks
library (`standardwebhooks` from PyPI), as a developer's backend would."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    at: float
    """time.monotonic() when the request arrived."""
    headers: dict[str, str]
    body: bytes
    payload: Any
    answered: int

    @property
    def id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass
class Receiver:
    url: str
    secret: str | None = None
    answer: Callable[[int], int] = lambda _: 200
    """Status for the n-th request (0-based) that verified."""
    stall_s: Callable[[int], float] = lambda _: 0.0
    """Seconds to hold the n-th verified request before answering."""
    requests: list[Received] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Event = field(default_factory=threading.Event)

    def handle(self, headers: dict[str, str], body: bytes) -> tuple[int, float]:
        arrived = time.monotonic()
        if self.secret is None:
            with self.lock:
                self.rejected.append("no secret set yet")
            return 503, 0.0
        try:
            payload = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError as exc:
            with self.lock:
                self.rejected.append(str(exc))
            return 400, 0.0
        with self.lock:
            n = len(self.requests)
            status = self.answer(n)
            self.requests.append(Received(arrived, headers, body, payload, status))
        self.arrived.set()
        return status, self.stall_s(n)

    def delivered(self) -> list[Received]:
        """Requests answered 2xx, in arrival order."""
        with self.lock:
            return [r for r in self.requests if 200 <= r.answered < 300]

    def wait_for(self, predicate: Callable[[Receiver], bool], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate(self):
            if time.monotonic() > deadline:
                with self.lock:
                    seen = [(r.type, r.answered) for r in self.requests]
                raise AssertionError(f"receiver condition not met in {timeout_s}s; saw {seen}")
            time.sleep(0.05)


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver: Receiver | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert receiver is not None
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, stall = receiver.handle(headers, body)
            time.sleep(stall)
            with contextlib.suppress(OSError):  # the sender may be gone (killed) by now
                answer = b"" if status == 204 else json.dumps({"ok": 200 <= status < 300}).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
