"""A live call from a real browser: Debian's Chromium runs the demo page (/sdk/call.html) and the
JavaScript client against a real server with the real models.

Chromium's fake microphone plays an espeak-ng question from a WAV file. The page starts without
the microphone and the test turns it on once the greeting is over; the file starts playing when
the microphone is opened, so the question never talks over the greeting."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
from PIL import Image

from opencharacters.media.audio import resample, wav_bytes
from opencharacters.settings import Settings
from tests.engine.live.conftest import conversation, create_avatar, espeak, wait_status
from tests.support.browser import launch_chromium, server_for_browser
from tests.support.http import api as api_client
from tests.support.server import Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

START_SCRIPT = "Hi, I'm Ada. Ask me anything about space!"
QUESTION = "Hello Ada. What is the biggest planet in our solar system?"
SIZE = (
    Settings.model_fields["output_width"].default,
    Settings.model_fields["output_height"].default,
)
MIC_RATE = 48_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_for_browser(
        tmp_path_factory,
        "browser",
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        # The recorder has its own tests; here it would only take CPU from the call.
        OPENCHARACTERS_RECORD_SESSIONS="false",
    ) as running:
        yield running


def question_wav(path: Path) -> Path:
    """The question at 48 kHz (what Chromium's fake capture expects), with a little silence."""
    samples, rate = espeak(QUESTION)
    speech = resample(samples, rate, MIC_RATE)
    silence = np.zeros(MIC_RATE // 4, dtype=np.float32)
    path.write_bytes(wav_bytes(np.concatenate([silence, speech, silence, silence]), MIC_RATE))
    return path


def ready_session(api: httpx.Client, avatar_id: str) -> tuple[str, str]:
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    created = api.post("/v1/realtime_sessions", json={**body, "maxDuration": 300})
    assert created.status_code == 200, created.text
    session = wait_status(api, created.json()["id"], {"READY"})
    return str(session["id"]), str(session["sessionKey"])


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


class Browser:
    """The demo page, with what a failing wait needs to say what it was waiting on."""

    def __init__(self, page: Any, server: Server) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"),
        )
        # An aborted request (net::ERR_ABORTED in the console) is not a console event.
        page.on(
            "requestfailed",
            lambda r: (
                r.method != "GET"
                and self.errors.append(f"request failed: {r.method} {r.url} {r.failure}")
            ),
        )

    def wait(self, expression: str, what: str, timeout_s: float = 60) -> None:
        try:
            self.page.wait_for_function(expression, timeout=timeout_s * 1000)
        except playwright.Error as error:
            raise AssertionError(f"{what}: {error}\n{self.snapshot()}") from None

    def snapshot(self) -> str:
        try:
            state = self.page.evaluate(
                """() => ({status: document.body.dataset.status, state: window.call?.state,
                    error: document.getElementById("error").textContent,
                    transcript: window.call?.transcript})"""
            )
        except playwright.Error as error:
            state = f"(page unreadable: {error})"
        return (
            f"page: {json.dumps(state)}\nbrowser: {self.errors}\nserver log:\n"
            + (self.server.log()[-3000:])
        )

    def entries(self, role: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.page.evaluate("window.call.transcript")
        return [entry for entry in entries if entry["role"] == role]


def check_errors_reach_a_page_on_another_origin(page: Any, base: str, session_id: str) -> None:
    """The module imports cross-origin, and the server's {"error"} bodies become the messages.
    (The other origin is the same server by another name: Chromium refuses requests from a
    public origin that is not a secure context to loopback addresses, CORS or not.)"""
    other_origin = base.replace("127.0.0.1", "localhost")
    assert other_origin != base
    page.goto(f"{other_origin}/health")
    failures = page.evaluate(
        """async ([base, id]) => {
            const { consume, connect } = await import(base + "/sdk/opencharacters.js");
            const out = {};
            try { await consume({ baseUrl: base, sessionId: id, sessionKey: "not-the-key" }); }
            catch (e) { out.consume = [e.name, e.code, e.status, e.message]; }
            const url = base + "/v1/realtime_sessions/" + id + "/whip";
            try { await connect({ url, token: "not-the-token" }, { audio: false }); }
            catch (e) { out.connect = [e.name, e.code, e.status, e.message]; }
            return out;
        }""",
        [base, session_id],
    )
    assert failures == {
        "consume": [
            "OpenCharactersError",
            "CONSUME_FAILED",
            401,
            "Failed to consume session (401): Invalid session key for this session: send the "
            "sessionKey of this session (not an API key).",
        ],
        "connect": [
            "OpenCharactersError",
            "CONNECTION_FAILED",
            401,
            "Failed to connect (401): Invalid media token for this session: send the token "
            "consume returned.",
        ],
    }


def video_stats(page: Any) -> dict[str, Any]:
    stats: dict[str, Any] = page.evaluate(
        """async () => {
            const video = document.getElementById("avatar");
            const frames = () => video.getVideoPlaybackQuality().totalVideoFrames;
            const [frames0, time0] = [frames(), video.currentTime];
            await new Promise((resolve) => setTimeout(resolve, 2000));
            return {width: video.videoWidth, height: video.videoHeight, paused: video.paused,
                    frames: frames() - frames0, seconds: video.currentTime - time0};
        }"""
    )
    return stats


def received_video(page: Any) -> dict[str, Any]:
    """Frames shown by the element, and the peer's counts (which tell a slow server from a
    slow browser when the rate is low)."""
    counts: dict[str, Any] = page.evaluate(
        """async () => {
            const out = {shown: avatar.getVideoPlaybackQuality().totalVideoFrames,
                         at: performance.now() / 1000};
            for (const report of (await window.call.peer.getStats()).values()) {
                if (report.type !== "inbound-rtp") continue;
                const buffered = report.jitterBufferDelay / report.jitterBufferEmittedCount;
                out[report.kind + "BufferS"] = Math.round(buffered * 1000) / 1000;
                if (report.kind === "video") {
                    Object.assign(out, {received: report.framesReceived,
                        decoded: report.framesDecoded, dropped: report.framesDropped});
                }
            }
            return out;
        }"""
    )
    return counts


def frame_pixels(page: Any, width: int, height: int) -> np.ndarray[Any, Any]:
    """The frame on screen now, scaled down in the page, as RGB."""
    data = page.evaluate(
        """([width, height]) => {
            const canvas = Object.assign(document.createElement("canvas"), {width, height});
            const context = canvas.getContext("2d");
            context.drawImage(document.getElementById("avatar"), 0, 0, width, height);
            return Array.from(context.getImageData(0, 0, width, height).data);
        }""",
        [width, height],
    )
    return np.array(data, dtype=np.float32).reshape(height, width, 4)[:, :, :3]


def reference_pixels(api: httpx.Client, avatar_id: str, width: int, height: int) -> Any:
    """The avatar's processed image (the still face the renderer animates), scaled the same."""
    avatar = api.get(f"/v1/avatars/{avatar_id}").json()
    image = Image.open(io.BytesIO(httpx.get(avatar["processedImageUri"]).content))
    scaled = image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(scaled, dtype=np.float32)


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with api_client(server) as client:
        yield client


@pytest.fixture(scope="module")
def avatar_id(api: httpx.Client) -> str:
    return create_avatar(api, startScript=START_SCRIPT)


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Iterator[Any]:
    microphone = question_wav(tmp_path_factory.mktemp("microphone") / "question.wav")
    with launch_chromium(microphone) as browser:
        yield browser


def test_a_browser_call_shows_the_avatar_hears_answers_and_ends(
    server: Server, api: httpx.Client, avatar_id: str, chromium: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    session_id, session_key = ready_session(api, avatar_id)
    page = chromium.new_page(viewport={"width": 1000, "height": 840})
    try:
        browser = Browser(page, server)
        check_errors_reach_a_page_on_another_origin(page, server.base_url, session_id)
        browser.errors.clear()  # the 401s just provoked

        fragment = urlencode({"sessionId": session_id, "sessionKey": session_key})
        page.goto(f"{server.base_url}/sdk/call.html#{fragment}&mic=off")
        browser.wait("document.body.dataset.status === 'active'", "connected")
        assert page.evaluate("location.hash + location.search") == "", "credentials left in URL"

        # The greeting, captioned word by word as it is heard.
        browser.wait(
            f"""window.call.state === 'listening' && window.call.transcript.some(
                e => e.role === 'assistant' && e.text === {json.dumps(START_SCRIPT)})""",
            "the start script as assistant transcription",
        )
        video = video_stats(page)
        assert (video["width"], video["height"]) == SIZE, video
        assert not video["paused"] and video["seconds"] > 1.0, video
        # Few frames per second when the box is overloaded; but they do advance.
        assert video["frames"] >= 2, f"the avatar's frames do not advance: {video}"
        frames_at_greeting = received_video(page)
        shown = frame_pixels(page, 68, 44)
        still = reference_pixels(api, avatar_id, 68, 44)
        difference = float(np.abs(shown - still).mean())
        swapped = float(np.abs(shown[:, :, ::-1] - still).mean())
        assert difference < 20 and swapped > difference + 5, (difference, swapped)

        # The question, heard and recognised; then an answer.
        page.click("#mic")
        browser.wait("window.call.transcript.some(e => e.role === 'user')", "the question heard")
        [asked] = browser.entries("user")
        assert len({"biggest", "planet", "solar", "system"} & words(asked["text"])) >= 3, asked
        browser.wait(
            f"""window.call.state === 'listening' && window.call.transcript.some(
                e => e.role === 'assistant' && e.turn > {asked["turn"]} && e.text)""",
            "an answer",
            timeout_s=120,
        )
        shown_items = page.eval_on_selector_all(
            "#transcript li", "items => items.map(i => [i.dataset.role, i.textContent])"
        )
        page.screenshot(path=str(tmp_path / "browser-call.png"))
        greeting, answer = browser.entries("assistant")
        assert greeting["text"] == START_SCRIPT and answer["text"].strip()
        assert shown_items == [
            ["assistant", START_SCRIPT],
            ["user", asked["text"]],
            ["assistant", answer["text"]],
        ]

        frames = received_video(page)
        assert frames["shown"] >= frames_at_greeting["shown"] + 10, frames
        page.click("#end")
        browser.wait("document.body.dataset.status === 'ended'", "ended", timeout_s=30)
        ended = page.evaluate("window.call.endInfo")
        assert ended == {"reason": "ended by the caller", "by": "client", "hangUpStatus": 200}
        assert browser.errors == []
    finally:
        page.close()

    session = wait_status(api, session_id, {"COMPLETED"})
    assert session["duration"] >= 1
    record = conversation(api, session_id)
    assert record["status"] == "ended"
    assert [(e["role"], e["content"]) for e in record["transcript"]] == [
        ("assistant", START_SCRIPT),
        ("user", asked["text"]),
        ("assistant", answer["text"].strip()),
    ]
    seconds = frames["at"] - frames_at_greeting["at"]
    rates = {
        key: round((frames[key] - frames_at_greeting[key]) / seconds, 1)
        for key in ("shown", "received", "decoded")
    }
    buffers = {key: frames[key] for key in ("audioBufferS", "videoBufferS")}
    print(
        f"browser call: {time.monotonic() - started:.1f} s, video fps {rates}, "
        f"jitter buffers {buffers}, pixels off by {difference:.1f} (swapped {swapped:.1f}), "
        f"in {tmp_path}"
    )


def test_leaving_the_page_hangs_up(
    server: Server, api: httpx.Client, avatar_id: str, chromium: Any
) -> None:
    session_id, session_key = ready_session(api, avatar_id)
    page = chromium.new_page()
    try:
        browser = Browser(page, server)
        hang_ups: list[str] = []
        page.on("request", lambda r: r.method == "DELETE" and hang_ups.append(r.url))
        fragment = urlencode({"sessionId": session_id, "sessionKey": session_key})
        page.goto(f"{server.base_url}/sdk/call.html#{fragment}&mic=off")
        browser.wait("document.body.dataset.status === 'active'", "connected")
        wait_status(api, session_id, {"RUNNING"})
        # What a browser fires on the way out (navigating away, closing the tab), minus the
        # unload itself, so the page can still be asked what happened.
        page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
        browser.wait("document.body.dataset.status === 'ended'", "ended on pagehide")
        assert page.evaluate("window.call.endInfo") == {
            "reason": "the page was closed",
            "by": "page",
        }
        assert hang_ups == [f"{server.base_url}/v1/realtime_sessions/{session_id}/whip/call"]
    finally:
        page.close()
    wait_status(api, session_id, {"COMPLETED"})
