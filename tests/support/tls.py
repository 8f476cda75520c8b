"""A local HTTPS server with a test CA, standing in for a public image host; and a trap listener
that records every connection made to it (an "internal service" nothing may reach)."""

from __future__ import annotations

import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trustme


@dataclass
class TlsHost:
    base_url: str
    ca_bundle: Path
    routes: dict[str, tuple[int, bytes, str]]
    redirects: dict[str, tuple[int, str]] = field(default_factory=dict)
    """path → (status, Location)"""

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])


@contextmanager
def tls_host(
    tmp: Path, address: str = "127.0.0.1", names: tuple[str, ...] = ()
) -> Iterator[TlsHost]:
    """Serves `routes` and `redirects` over https on `address` (certificate for it, localhost
    and `names`). base_url names the host 'localhost' when bound to 127.0.0.1, else the address."""
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", address, *names)
    bundle = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    routes: dict[str, tuple[int, bytes, str]] = {}
    redirects: dict[str, tuple[int, str]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(3)
            if self.path in redirects:
                status, location = redirects[self.path]
                self.send_response(status)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status, body, mime = routes.get(self.path, (404, b"missing", "text/plain"))
            self.send_response(status)
            self.send_header("Content-Type", mime)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer((address, 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    name = "localhost" if address == "127.0.0.1" else address
    try:
        yield TlsHost(f"https://{name}:{server.server_address[1]}", bundle, routes, redirects)
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Trap:
    """Listens on loopback (IPv4 and IPv6, one port) and counts the connections it accepts."""

    port: int
    connections: list[str] = field(default_factory=list)


@contextmanager
def trap_listener() -> Iterator[Trap]:
    v4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    v4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    v4.bind(("127.0.0.1", 0))
    port = v4.getsockname()[1]
    v6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    v6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    v6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    v6.bind(("::1", port))
    trap = Trap(port)
    stop = threading.Event()

    def accept(sock: socket.socket) -> None:
        sock.listen(16)
        sock.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            trap.connections.append(str(peer))
            conn.close()

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in (v4, v6)]
    for thread in threads:
        thread.start()
    try:
        yield trap
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        v4.close()
        v6.close()
