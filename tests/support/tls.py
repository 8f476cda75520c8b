"""A local HTTPS server with a test CA, standing in for a public image host."""

from __future__ import annotations

import http.server
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class TlsHost:
    base_url: str
    ca_bundle: Path
    routes: dict[str, tuple[int, bytes, str]]


@contextmanager
def tls_host(tmp: Path) -> Iterator[TlsHost]:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    bundle = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    routes: dict[str, tuple[int, bytes, str]] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(3)
            if self.path.startswith("/redirect-to-loopback"):
                self.send_response(302)
                self.send_header("Location", "https://127.0.0.1:1/x.png")
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

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield TlsHost(f"https://localhost:{server.server_address[1]}", bundle, routes)
    finally:
        server.shutdown()
        server.server_close()
