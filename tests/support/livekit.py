"""A real livekit-server process for tests, on loopback, with generated keys and free ports.

`make setup` builds the pinned binary into .tools/bin (scripts/setup-livekit.sh). Without it the
LiveKit tests skip on a developer's machine and fail in CI, where it must be there."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".tools" / "bin" / "livekit-server"
BUILD_HINT = "scripts/setup-livekit.sh (run by `make setup`) builds it"


def binary() -> Path:
    """The pinned livekit-server, or a skip (a failure in CI) when it was not built."""
    override = os.environ.get("OPENCHARACTERS_TEST_LIVEKIT_SERVER")
    path = Path(override) if override else BINARY
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"livekit-server not found at {path}: {BUILD_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class LiveKitServer:
    """One single-node livekit-server: signalling and API on `port`, ICE/TCP and muxed UDP on
    two more ports, advertising 127.0.0.1 only (no external-IP lookup)."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.tcp_port = free_port()
        self.udp_port = free_port()
        self.api_key = f"APItest{secrets.token_hex(4)}"
        self.api_secret = secrets.token_urlsafe(32)
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / "livekit-server.log"
        self.config_path = log_dir / "livekit.yaml"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        return "\n".join(
            [
                f"port: {self.port}",
                "bind_addresses: ['127.0.0.1']",
                "rtc:",
                f"  tcp_port: {self.tcp_port}",
                f"  udp_port: {self.udp_port}",
                "  node_ip: 127.0.0.1",
                "  use_external_ip: false",
                "  enable_loopback_candidate: true",
                "keys:",
                f"  {self.api_key}: {self.api_secret}",
                "logging:",
                "  level: info",
                "room:",
                "  empty_timeout: 30",
                "",
            ]
        )

    def start(self, timeout_s: float = 30) -> LiveKitServer:
        executable = binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        self.config_path.chmod(0o600)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(executable), "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"livekit-server exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.http_url, timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"livekit-server did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def server_env(self) -> dict[str, str]:
        """What `opencharacters serve` needs to run its calls in this server's rooms."""
        return {
            "OPENCHARACTERS_TRANSPORT": "livekit",
            "OPENCHARACTERS_LIVEKIT__URL": self.url,
            "OPENCHARACTERS_LIVEKIT__API_KEY": self.api_key,
            "OPENCHARACTERS_LIVEKIT__API_SECRET": self.api_secret,
        }


@contextlib.contextmanager
def livekit_server(log_dir: Path) -> Iterator[LiveKitServer]:
    server = LiveKitServer(log_dir).start()
    try:
        yield server
    finally:
        server.stop()
