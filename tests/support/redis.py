"""A throwaway redis-server (Debian's) on a free loopback port, nothing kept on disk: what
several livekit-server nodes share to route rooms between them."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port


def redis_binary() -> str:
    """redis-server, or a skip (a failure in CI, which installs it) when it is missing."""
    path = shutil.which("redis-server")
    if path:
        return path
    message = "redis-server not found: apt-get install redis-server (.ci/run installs it)"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextlib.contextmanager
def redis_server(log_dir: Path) -> Iterator[str]:
    """Yields its address, host:port."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log = (log_dir / "redis.log").open("ab")
    process = subprocess.Popen(
        [
            redis_binary(),
            *("--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
            *("--dir", str(log_dir)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not start (see {log_dir / 'redis.log'})")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
