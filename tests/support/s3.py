"""A real S3-compatible server for tests: Versity Gateway (versitygw) on loopback.

scripts/setup-s3.sh builds it into .tools/bin (`make setup`). It checks SigV4 signatures,
presigned URLs and their expiry as AWS does, so what passes here is what S3 would accept.
Without the binary the S3 tests skip, except in CI (CI=1), where they fail."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import free_port

REPO = Path(__file__).resolve().parents[2]
BINARY_ENV = "OPENCHARACTERS_TEST_VERSITYGW"
"""A versitygw binary elsewhere than .tools/bin/versitygw."""
REGION = "us-east-1"


class S3Server:
    """One versitygw process over a folder; stop() and start() again keep port and objects."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.root, self.sidecar = workdir / "buckets", workdir / "meta"
        self.root.mkdir(parents=True)
        self.sidecar.mkdir()
        self.port = free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.access_key_id, self.secret_access_key = "octestaccess", uuid.uuid4().hex
        self.region = REGION
        self.log_path = workdir / "versitygw.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> S3Server:
        command = [
            str(self.binary),
            "--port",
            f"127.0.0.1:{self.port}",
            "--access",
            self.access_key_id,
            "--secret",
            self.secret_access_key,
            "--region",
            self.region,
            "--quiet",
            "posix",
            "--sidecar",
            str(self.sidecar),
            str(self.root),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own environment: the gateway also reads ROOT_ACCESS_KEY and VGW_* variables.
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            )
        try:
            _wait_for_port(self.port, self.process, self.log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def env(self, bucket: str) -> dict[str, str]:
        """The server settings (OPENCHARACTERS_*) that put blobs in this bucket."""
        return {
            "OPENCHARACTERS_BLOB_STORE": "s3",
            "OPENCHARACTERS_S3__BUCKET": bucket,
            "OPENCHARACTERS_S3__ENDPOINT_URL": self.endpoint_url,
            "OPENCHARACTERS_S3__REGION": self.region,
            "OPENCHARACTERS_S3__ACCESS_KEY_ID": self.access_key_id,
            "OPENCHARACTERS_S3__SECRET_ACCESS_KEY": self.secret_access_key,
            "OPENCHARACTERS_S3__PATH_STYLE": "true",
        }

    def create_bucket(self, name: str | None = None) -> str:
        import boto3

        bucket = name or f"oc-test-{uuid.uuid4().hex[:12]}"
        boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
        ).create_bucket(Bucket=bucket)
        return bucket


def versitygw_binary() -> Path | None:
    configured = os.environ.get(BINARY_ENV)
    candidates = [Path(configured)] if configured else []
    candidates.append(REPO / ".tools" / "bin" / "versitygw")
    found = shutil.which("versitygw")
    if found:
        candidates.append(Path(found))
    return next((path for path in candidates if path.is_file() and os.access(path, os.X_OK)), None)


def require_versitygw() -> Path:
    binary = versitygw_binary()
    if binary is not None:
        return binary
    reason = "versitygw is not built: run scripts/setup-s3.sh (part of `make setup`)"
    if os.environ.get("CI"):
        pytest.fail(f"CI needs the S3 server: {reason}")
    pytest.skip(reason)


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"versitygw exited ({process.returncode}):\n{log_path.read_text()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"versitygw did not listen within 30 s:\n{log_path.read_text()}")


@contextlib.contextmanager
def running_s3(workdir: Path) -> Iterator[S3Server]:
    """versitygw's POSIX backend over a fresh folder (metadata in a sidecar folder, so the
    filesystem needs no extended attributes); stopped afterwards."""
    server = S3Server(require_versitygw(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
