"""A real `opencharacters serve` process for tests, on SQLite or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg

POSTGRES_ENV = "OPENCHARACTERS_TEST_POSTGRES_URL"
API_KEY = "oc_test_bootstrap_key_0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    admin_url = os.environ[POSTGRES_ENV]
    name = f"oc_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = admin_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Server:
    def __init__(
        self,
        data_dir: Path,
        database_url: str | None,
        *,
        media_workers: int | None = None,
        log_name: str = "server.log",
        **env: str,
    ) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.media_workers = media_workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "OPENCHARACTERS_DATA_DIR": str(data_dir),
            "OPENCHARACTERS_PORT": str(self.port),
            "OPENCHARACTERS_BOOTSTRAP_API_KEY": API_KEY,
            "OPENCHARACTERS_RATE_LIMIT_PER_MINUTE": "100000",
            "OPENCHARACTERS_RATE_LIMIT_BURST": "100000",
            "OPENCHARACTERS_SESSION_CAPACITY": "50",
            # Models load on the first call instead: most test servers never take one.
            "OPENCHARACTERS_PRELOAD_ENGINES": "false",
            # Voice descriptions by keyword rules: the model-based reader is tested in
            # tests/speech, and would load the dialogue model into every API test server.
            "OPENCHARACTERS_ENGINES__VOICES__PROMPT_PARSER": "rules",
            # The suite runs two test workers at once: a background job 10 levels below the
            # other worker's tests waited on them (a voice clone took 110 s instead of ~30 s).
            # The lowering is tested in tests/test_background_cpu.py.
            "OPENCHARACTERS_BACKGROUND_NICENESS": "0",
            **env,
        }
        if database_url:
            self.env["OPENCHARACTERS_DATABASE_URL"] = database_url
        self.process: subprocess.Popen[str] | None = None
        self.log_path = data_dir / log_name
        """Several API nodes may share one data directory (as a shared filesystem)."""

    def start(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("a")
        command = [sys.executable, "-m", "opencharacters", "serve", "--log-level", "warning"]
        if self.media_workers is not None:
            command += ["--media-workers", str(self.media_workers)]
        self.process = subprocess.Popen(
            command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # With OPENCHARACTERS_PRELOAD_ENGINES the server answers once its media worker has
        # loaded the models (tens of seconds on a busy 2-core box).
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as when a machine loses power."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text()


class MediaWorker:
    """A separately started `opencharacters worker` sharing a Server's database and data dir."""

    def __init__(
        self,
        server: Server,
        *,
        slots: int = 1,
        name: str = "worker",
        prefix: list[str] | None = None,
        args: list[str] | None = None,
        **env: str,
    ) -> None:
        self.server = server
        self.env = env
        self.slots = slots
        self.prefix = prefix or []
        """Runs it elsewhere, e.g. on a test host: `ip netns exec NAME`."""
        self.args = args or []
        self.log_path = server.data_dir / f"{name}.log"
        self.process: subprocess.Popen[str] | None = None
        self.worker_id: str | None = None
        self.address: str | None = None
        """Its internal endpoint (/metrics, /readyz), once started."""

    def start(self, timeout_s: float = 240) -> MediaWorker:
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [
                *self.prefix,
                *(sys.executable, "-m", "opencharacters", "worker", "--slots", str(self.slots)),
                *self.args,
            ],
            env={**self.server.env, "OPENCHARACTERS_PORT": "0", **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()}")
            with self.log_path.open() as fh:
                fh.seek(offset)
                for line in fh:
                    if "media worker " in line and " at http" in line:
                        self.worker_id = line.split("media worker ", 1)[1].split()[0]
                        self.address = line.split(" at ", 1)[1].split()[0]
                        return self
            time.sleep(0.1)
        raise RuntimeError(f"worker did not register:\n{self.log()}")

    def kill(self) -> None:
        """kill -9: no goodbye, no clean-up."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
