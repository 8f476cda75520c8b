"""Runway's official TypeScript SDK (`@runwayml/sdk` 4.20.1) drives every avatar-related method
against a real server, on SQLite and PostgreSQL: tests/api/typescript_sdk/avatar_checks.mjs.

The SDK is installed with npm once into `.cache/typescript-sdk/` (ignored by git) and reused;
the test is skipped only when node or npm is not installed."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.support.server import API_KEY, Server

SDK_VERSION = "4.20.1"
ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "typescript-sdk"
SCRIPT = Path(__file__).with_name("typescript_sdk") / "avatar_checks.mjs"
FACE = ROOT / "tests" / "assets" / "astronaut.jpg"

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.one_database]


@pytest.fixture(scope="session")
def typescript_sdk() -> Path:
    """The SDK's ES module entry point, installed once per machine at the pinned version."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run Runway's TypeScript SDK (not installed)")
    entry = CACHE / "node_modules" / "@runwayml" / "sdk" / "index.mjs"
    manifest = entry.with_name("package.json")
    if not (manifest.exists() and json.loads(manifest.read_text())["version"] == SDK_VERSION):
        CACHE.mkdir(parents=True, exist_ok=True)
        (CACHE / "package.json").write_text('{"private": true}\n')
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", f"@runwayml/sdk@{SDK_VERSION}"],
            cwd=CACHE,
            check=True,
            timeout=300,
            capture_output=True,
        )
    assert entry.exists(), f"npm installed no {entry}"
    return entry


def speech_like_wav(seconds: float = 1.5, rate: int = 16_000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None)
    samples = (0.4 * envelope * np.sin(2 * np.pi * 220 * t) * 32767).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


def test_typescript_sdk_drives_every_avatar_method(
    typescript_sdk: Path, server: Server, tmp_path: Path
) -> None:
    audio = tmp_path / "speech.wav"
    audio.write_bytes(speech_like_wav())
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "sdk": str(typescript_sdk),
                "baseURL": server.base_url,
                "apiKey": API_KEY,
                "faceImagePath": str(FACE),
                "audioWavPath": str(audio),
            }
        )
    )
    run = subprocess.run(
        ["node", str(SCRIPT), str(config)], capture_output=True, text=True, timeout=900
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no report from the script (exit {run.returncode}):\n{run.stderr[-3000:]}"
    report = json.loads(lines[-1])
    failures = [f"{c['name']}: {c.get('error')}" for c in report["checks"] if not c["ok"]]
    assert not failures, "\n\n".join(failures)
    assert report["passed"] >= 24 and run.returncode == 0
