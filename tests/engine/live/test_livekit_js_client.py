"""Our own browser client over LiveKit: the demo page (/sdk/call.html, which runs
/sdk/opencharacters.js as the portal does) in Debian's Chromium against a real server with
OPENCHARACTERS_TRANSPORT=livekit and a real livekit-server.

consume returns a LiveKit room, so the client imports LiveKit's browser client from the
server's /sdk/livekit-client.js (installed from npm by `make setup`) and joins the room: the
avatar's greeting is seen, heard and captioned, a spoken question (Chromium's fake microphone,
turned on after the greeting) is answered, and End completes the session. Skips without
livekit-server, the npm package or Chromium (and fails in CI without them)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import Samples, resample, wav_bytes
from opencharacters.portal import LIVEKIT_CLIENT, vendor_path
from tests.engine.live.conftest import conversation, ready_session, wait_status
from tests.support.browser import CHROMIUM, launch_chromium
from tests.support.server import Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GREETING = "Hi, I'm Ada."
QUESTION = "What is your name?"
MIC_RATE = 48_000


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is needed for the LiveKit browser-client test", pytrace=False)
    pytest.skip(f"{what} is needed for the LiveKit browser-client test")


@pytest.fixture(scope="module")
def chromium(
    tmp_path_factory: pytest.TempPathFactory, say_naturally: Callable[[str], tuple[Samples, int]]
) -> Iterator[Any]:
    if not vendor_path(*LIVEKIT_CLIENT).is_file():
        _missing("livekit-client from npm (scripts/setup-web.sh, run by `make setup`)")
    if not CHROMIUM.exists():
        _missing(f"Debian's Chromium at {CHROMIUM}")
    # A natural voice: through Opus and the room, espeak's "name" was heard as "aim".
    samples, rate = say_naturally(QUESTION)
    speech = resample(samples, rate, MIC_RATE)
    # Silence first: the file starts when the page opens the microphone, and the track is
    # published and subscribed by the avatar in the first moments.
    lead = np.zeros(MIC_RATE, dtype=np.float32)
    tail = np.zeros(MIC_RATE // 2, dtype=np.float32)
    microphone = tmp_path_factory.mktemp("microphone") / "question.wav"
    microphone.write_bytes(wav_bytes(np.concatenate([lead, speech, tail]), MIC_RATE))
    with launch_chromium(microphone) as browser:
        yield browser


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


class Page:
    def __init__(self, page: Any, server: Server) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))

    def wait(self, expression: str, what: str, timeout_s: float = 60) -> None:
        try:
            self.page.wait_for_function(expression, timeout=timeout_s * 1000)
        except playwright.Error as error:
            state = self.page.evaluate(
                """() => ({status: document.body.dataset.status, state: window.call?.state,
                    error: document.getElementById("error").textContent,
                    transcript: window.call?.transcript})"""
            )
            raise AssertionError(
                f"{what}: {error}\npage: {json.dumps(state)}\nbrowser: {self.errors}\n"
                f"server log:\n{self.server.log()[-3000:]}"
            ) from None

    def entries(self, role: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.page.evaluate("window.call.transcript")
        return [entry for entry in entries if entry["role"] == role]

    def media(self) -> dict[str, Any]:
        """Frames the element showed, and the avatar's voice as the browser received it."""
        result: dict[str, Any] = self.page.evaluate(
            """async () => {
                const video = document.getElementById("avatar");
                const out = {width: video.videoWidth, height: video.videoHeight,
                             paused: video.paused,
                             shown: video.getVideoPlaybackQuality().totalVideoFrames,
                             tracks: window.call.stream.getTracks().map((t) => t.kind).sort(),
                             peer: window.call.peer === null};
                for (const participant of window.call.room.remoteParticipants.values()) {
                    out.avatar = participant.identity;
                    for (const publication of participant.audioTrackPublications.values()) {
                        const stats = await publication.track.receiver.getStats();
                        for (const report of stats.values()) {
                            if (report.type === "inbound-rtp") {
                                out.audioEnergy = report.totalAudioEnergy;
                                out.audioSeconds = report.totalSamplesDuration;
                            }
                        }
                    }
                }
                return out;
            }"""
        )
        return result


def test_the_js_client_calls_over_livekit(
    lk_server: Server, lk_api: httpx.Client, lk_avatar: str, chromium: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    session_id, session_key = ready_session(lk_api, lk_avatar)
    page = chromium.new_page(viewport={"width": 1000, "height": 840})
    try:
        browser = Page(page, lk_server)
        fragment = urlencode({"sessionId": session_id, "sessionKey": session_key})
        page.goto(f"{lk_server.base_url}/sdk/call.html#{fragment}&mic=off")
        browser.wait("document.body.dataset.status === 'active'", "connected to the room")

        # The greeting: captioned, seen and heard.
        browser.wait(
            f"""window.call.state === 'listening' && window.call.transcript.some(
                e => e.role === 'assistant' && e.text === {json.dumps(GREETING)})""",
            "the greeting as assistant transcription",
        )
        greeted = browser.media()
        assert greeted["avatar"].startswith("worker:") and greeted["peer"], greeted
        assert greeted["tracks"] == ["audio", "video"], greeted
        assert (greeted["width"], greeted["height"]) != (0, 0) and not greeted["paused"]
        assert greeted["audioEnergy"] > 0 and greeted["audioSeconds"] > 0.5, greeted
        page.wait_for_timeout(1000)
        assert browser.media()["shown"] > greeted["shown"], "the avatar's frames do not advance"

        # The microphone, turned on now, is published: the question is heard and answered.
        page.click("#mic")
        browser.wait("window.call.transcript.some(e => e.role === 'user')", "the question heard")
        [asked] = browser.entries("user")
        assert "name" in words(asked["text"]), asked
        browser.wait(
            f"""window.call.state === 'listening' && window.call.transcript.some(
                e => e.role === 'assistant' && e.turn > {asked["turn"]} && e.text)""",
            "an answer",
            timeout_s=90,
        )
        page.screenshot(path=str(tmp_path / "livekit-browser-call.png"))

        page.click("#end")
        browser.wait("document.body.dataset.status === 'ended'", "ended", timeout_s=30)
        assert page.evaluate("window.call.endInfo") == {
            "reason": "ended by the caller",
            "by": "client",
        }
        assert browser.errors == []
    finally:
        page.close()

    session = wait_status(lk_api, session_id, {"COMPLETED"})
    assert session["duration"] >= 1
    record = conversation(lk_api, session_id)
    roles = [entry["role"] for entry in record["transcript"]]
    assert roles == ["assistant", "user", "assistant"], record["transcript"]
    assert record["transcript"][0]["content"] == GREETING
    print(f"LiveKit browser call: {time.monotonic() - started:.1f} s, greeting media {greeted}")
