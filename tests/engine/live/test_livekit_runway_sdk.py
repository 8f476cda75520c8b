"""Runway's own browser SDKs talk to our avatar: pages built with Vite from the npm registry
(tests/engine/live/runway_sdk_page/: `@runwayml/avatars` 0.16.0 without React, and
`@runwayml/avatars-react` 0.16.0's <AvatarCall>) run in Debian's Chromium against a real server
with OPENCHARACTERS_TRANSPORT=livekit and a real livekit-server.

The SDK consumes the session itself, joins the LiveKit room and plays the avatar; the fake
microphone plays a spoken question once the test opens it after the greeting. npm installs the
pinned packages once into .cache/runway-avatars-page/ (ignored by git) and the page is built
there; the test skips only without node/npm or Chromium (and fails in CI without them)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import Samples, resample, wav_bytes
from tests.engine.live.conftest import conversation, ready_session, wait_status
from tests.support.browser import CHROMIUM, launch_chromium
from tests.support.server import Server, free_port

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
PAGE = Path(__file__).with_name("runway_sdk_page")
CACHE = ROOT / ".cache" / "runway-avatars-page"
QUESTION = "What is your name?"
MIC_RATE = 48_000
Say = Callable[[str], tuple[Samples, int]]


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is needed for the Runway browser SDK test", pytrace=False)
    pytest.skip(f"{what} is needed for the Runway browser SDK test")


@pytest.fixture(scope="module")
def built_page() -> Path:
    """The page's dist/ folder, built with the pinned packages (installed once per machine)."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _missing("node and npm")
    if not CHROMIUM.exists():
        _missing(f"Debian's Chromium at {CHROMIUM}")
    assert npm is not None
    CACHE.mkdir(parents=True, exist_ok=True)
    wanted = json.loads((PAGE / "package.json").read_text())["dependencies"]
    installed = CACHE / "node_modules" / "@runwayml" / "avatars" / "package.json"
    lock = CACHE / "installed.json"  # what was installed last, to notice a changed pin
    stale = not installed.exists() or not lock.exists() or json.loads(lock.read_text()) != wanted
    for name in (
        "package.json",
        "vite.config.js",
        "index.html",
        "main.js",
        "react.html",
        "react.js",
    ):
        shutil.copyfile(PAGE / name, CACHE / name)
    if stale:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"],
            cwd=CACHE,
            check=True,
            timeout=600,
            capture_output=True,
        )
        lock.write_text(json.dumps(wanted))
    subprocess.run(
        [str(CACHE / "node_modules" / ".bin" / "vite"), "build", "--logLevel", "error"],
        cwd=CACHE,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return CACHE / "dist"


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """The built page on loopback (a secure context for the microphone, like localhost)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def question_wav(path: Path, say: Say) -> Path:
    """The question at 48 kHz after 1.5 s of silence: the file starts when the page opens the
    microphone, and the first moments go by while the SDK publishes the track and the avatar
    subscribes to it (a browser user does not speak in the instant they unmute either)."""
    samples, rate = say(QUESTION)
    speech = resample(samples, rate, MIC_RATE)
    lead = np.zeros(MIC_RATE * 3 // 2, dtype=np.float32)
    tail = np.zeros(MIC_RATE // 2, dtype=np.float32)
    path.write_bytes(wav_bytes(np.concatenate([lead, speech, tail]), MIC_RATE))
    return path


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def wait_until(page: Any, check: str, timeout_s: float) -> Any:
    """Polls a JavaScript expression over window.results until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(check)
        if value:
            return value
        time.sleep(0.25)
    state = page.evaluate("JSON.stringify(window.results)")
    raise AssertionError(f"{check} not true in {timeout_s} s: {state[:2000]}")


@pytest.mark.parametrize("page_name", ["index.html", "react.html"], ids=["avatars", "react"])
def test_runways_browser_sdk_calls_our_avatar_over_livekit(
    page_name: str,
    built_page: Path,
    lk_server: Server,
    lk_api: httpx.Client,
    lk_avatar: str,
    say_naturally: Say,
    tmp_path: Path,
) -> None:
    session_id, key = ready_session(lk_api, lk_avatar)
    # A natural voice (Piper's "vincent"): through two Opus hops espeak's "name" was once heard
    # as "aim"; what is checked here is the SDK's path, not recognition of a robotic voice.
    microphone = question_wav(tmp_path / "question.wav", say_naturally)
    query = urlencode({"sessionId": session_id, "sessionKey": key, "baseUrl": lk_server.base_url})
    with serve_folder(built_page) as origin, launch_chromium(microphone) as browser:
        page = browser.new_page()
        page.goto(f"{origin}/{page_name}?{query}")
        wait_until(
            page, "window.results && (window.results.ready || window.results.errors.length)", 60
        )
        assert page.evaluate("window.results.errors") == []
        # The greeting arrives as Runway transcription deltas, and the avatar's video plays.
        greeting = wait_until(
            page,
            "Object.entries(window.results.transcript).find(([id, e]) =>"
            " id.includes('assistant') && e.text.includes('Ada'))",
            60,
        )
        assert greeting[1]["text"].strip() == "Hi, I'm Ada."
        assert greeting[1]["who"].startswith("worker:")
        wait_until(page, "window.results.frames.length >= 12", 30)
        frames = page.evaluate("window.results.frames")
        assert {(w, h) for w, h, _ in frames} == {(1088, 704)}
        assert len({fingerprint for _, _, fingerprint in frames}) > 1, "the video plays"
        running = lk_api.get(f"/v1/realtime_sessions/{session_id}").json()
        assert running["status"] == "RUNNING"
        time.sleep(2.0)  # the greeting is short; let it end before the question
        page.evaluate("window.enableMic()")
        heard = wait_until(
            page,
            "Object.entries(window.results.transcript).find(([id, e]) =>"
            " id.includes('user') && e.text.trim())",
            60,
        )
        assert {"what", "your", "name"} <= words(heard[1]["text"])
        answer = wait_until(
            page,
            "Object.entries(window.results.transcript).find(([id, e]) =>"
            " id.includes('assistant') && !id.endsWith('-1') && e.text.trim())",
            90,
        )
        time.sleep(3.0)  # let the answer be heard before ending
        page.evaluate("window.endCall()")
        wait_until(page, "window.results.states.includes('ended')", 20)
    session = wait_status(lk_api, session_id, {"COMPLETED"})
    assert session["duration"] >= 1
    record = conversation(lk_api, session_id)
    transcript = record["transcript"]
    assert [entry["role"] for entry in transcript[:3]] == ["assistant", "user", "assistant"]
    assert transcript[0]["content"] == "Hi, I'm Ada."
    assert transcript[2]["content"].startswith(answer[1]["text"].strip()[:20])
    assert record["recordingUrl"], "the call was recorded"
