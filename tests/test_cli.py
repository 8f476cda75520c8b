"""The command line as users run it: serve prints how to authenticate; keys work."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

pytestmark = pytest.mark.integration


def serve_until_ready(
    data_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[str, str]:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OPENCHARACTERS_")}
    environment.update(env or {})
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "opencharacters",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            # What is printed at start-up is the API's: no media worker (and no model loading)
            # is needed to read it.
            "--media-workers",
            "0",
            *extra,
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=20)
    return base, output


def printed_key(output: str) -> str | None:
    for line in output.splitlines():
        if "RUNWAYML_API_SECRET=" in line:
            return line.split("=", 1)[1].strip()
    return None


def test_first_start_creates_and_prints_a_key_once(tmp_path: Path) -> None:
    base, output = serve_until_ready(tmp_path)
    key = printed_key(output)
    assert key and key.startswith("oc_"), output
    assert base in output
    assert f"Developer portal: {base}/portal/" in output, output
    _, again = serve_until_ready(tmp_path)
    assert printed_key(again) is None
    assert "existing key" in again


def test_dev_key_file_is_kept_private_and_printed_every_start(tmp_path: Path) -> None:
    _, first = serve_until_ready(tmp_path, "--dev-key-file")
    _, second = serve_until_ready(tmp_path, "--dev-key-file")
    key = printed_key(first)
    assert key and key == printed_key(second)
    key_file = tmp_path / "dev-api-key"
    assert key_file.read_text().strip() == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_bootstrap_key_from_the_environment(tmp_path: Path) -> None:
    _, output = serve_until_ready(tmp_path, env={"OPENCHARACTERS_BOOTSTRAP_API_KEY": "my-own-key"})
    assert "OPENCHARACTERS_BOOTSTRAP_API_KEY" in output
    assert "my-own-key" not in output


def test_keys_create_prints_the_key_alone_on_the_last_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "opencharacters",
            "keys",
            "create",
            "--org",
            "acme",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("oc_") and " " not in last
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "opencharacters",
            "keys",
            "revoke",
            "nope",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "no single key" in missing.stderr
