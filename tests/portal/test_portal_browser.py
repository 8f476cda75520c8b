"""The developer portal end to end, in Debian's Chromium with a fake microphone: sign in, add a
document, create a character from an uploaded image, wait for READY, play a voice preview, call
it (video, greeting, the caller's words in the transcript, an answer), hang up, find the
conversation with its recording; then voices, usage and API keys. Every page is saved to
docs/portal/ as a screenshot. The browser console must stay free of errors throughout."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.portal.test_browser_call import question_wav
from tests.support.browser import launch_chromium, server_for_browser
from tests.support.media import FACE_JPEG
from tests.support.server import API_KEY, Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# docs/portal/ is refreshed only on request (OPENCHARACTERS_UPDATE_SCREENSHOTS=1): a test run
# must not rewrite the repository.
SCREENSHOTS = (
    Path(__file__).parents[2] / "docs" / "portal"
    if os.environ.get("OPENCHARACTERS_UPDATE_SCREENSHOTS")
    else Path(tempfile.mkdtemp(prefix="portal-screenshots-"))
)
START_SCRIPT = "Hi, I'm Ada. Ask me anything about space!"
PERSONALITY = (
    "You are Ada, a cheerful astronaut who answers questions about space in one or two short, "
    "friendly sentences."
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_for_browser(
        tmp_path_factory,
        "portal",
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        # Descriptions become voices by keyword rules: no model load in this test.
        OPENCHARACTERS_ENGINES__VOICES__PROMPT_PARSER="rules",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory, server: Server) -> Iterator[Any]:
    microphone = question_wav(tmp_path_factory.mktemp("microphone") / "question.wav")
    with launch_chromium(microphone) as browser:
        yield browser


class Portal:
    """A page of the portal, with the errors the console saw and what a failed wait needs."""

    def __init__(self, page: Any, server: Server) -> None:
        self.page = page
        self.server = server
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append(f"console: {m.text} {m.location}"),
        )
        # A request the page gave up on shows in the console as net::ERR_ABORTED, which
        # Playwright's console events do not carry. GETs are left out: the browser itself
        # cancels media range requests and the portal's polls when a page is left.
        page.on(
            "requestfailed",
            lambda r: (
                r.method != "GET"
                and self.errors.append(f"request failed: {r.method} {r.url} {r.failure}")
            ),
        )
        page.set_default_timeout(30_000)

    def wait(self, expression: str, what: str, timeout_s: float = 60) -> None:
        """Polls the expression (page.wait_for_function would need eval, which the portal's
        Content-Security-Policy forbids)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if self.page.evaluate(expression):
                    return
                failure = "timed out"
            except playwright.Error as error:
                failure = str(error)
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: {failure}\n{self.snapshot()}")
            time.sleep(0.1)

    def snapshot(self) -> str:
        try:
            text = self.page.evaluate("document.querySelector('main').innerText.slice(0, 2000)")
        except playwright.Error as error:
            text = f"(page unreadable: {error})"
        return f"page:\n{text}\nbrowser: {self.errors}\nserver log:\n{self.server.log()[-3000:]}"

    def go(self, hash_: str, heading: str) -> None:
        self.page.evaluate(f"location.hash = {json.dumps(hash_)}")
        self.heading(heading)

    def heading(self, heading: str) -> None:
        self.wait(
            f"""document.querySelector('main h1')?.textContent.startsWith({json.dumps(heading)})
                && !document.querySelector('main').hasAttribute('aria-busy')""",
            f"the page {heading!r}",
        )

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def test_the_portal_from_sign_in_to_the_recorded_conversation(
    server: Server, chromium: Any
) -> None:
    started = time.monotonic()
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    portal = Portal(page, server)
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - started, 1)

    try:
        # Sign in.
        page.goto(f"{server.base_url}/portal/")
        page.wait_for_selector("#api-key")
        portal.shot("sign-in")
        page.fill("#api-key", API_KEY)
        page.keyboard.press("Enter")
        portal.heading("Characters")
        assert page.evaluate("sessionStorage.length") == 1
        assert page.evaluate("localStorage.length") == 0

        # A knowledge document, pasted.
        portal.go("#/documents", "Documents")
        page.get_by_label("Name", exact=True).fill("Planets")
        page.get_by_label("Content (text or Markdown)").fill(
            "# Planets\n\nJupiter is the biggest planet in the solar system."
        )
        page.click("text=Add document")
        page.wait_for_selector("#documents tr[data-document-id]")

        # A character from an uploaded image, with the document and a tool.
        portal.go("#/characters/new", "Create a character")
        page.set_input_files("#image-file", str(FACE_JPEG))
        portal.wait(
            "/\\d+ \\u00d7 \\d+/.test(document.getElementById('image-info').textContent)",
            "the crop preview",
        )
        page.get_by_label("Name", exact=True).fill("Ada")
        page.get_by_label("Personality").fill(PERSONALITY)
        page.get_by_label("Start script").fill("Hello there.")
        page.check("text=Planets")
        page.click("#add-tool")
        page.fill(".tool input[data-key='tools[0].name']", "show planet")  # invalid: a space
        page.fill(".tool textarea", "Shows a picture of a planet")
        # A voice preview plays.
        page.check("#voice-preset\\:mia")
        page.click('button[aria-label="Play Mia\'s voice preview"]')
        portal.wait(
            """[...document.querySelectorAll('button.play')].some(
                b => b.dataset.playing === 'true' || b.dataset.played === 'true')""",
            "the voice preview playing",
        )
        page.click("text=Create character")
        error = page.locator(".field-error[data-path='tools[0].name']")
        assert "must match ^[a-zA-Z_][a-zA-Z0-9_]*$" in error.inner_text()
        page.fill(".tool input[data-key='tools[0].name']", "show_planet")
        assert error.inner_text() == ""
        portal.shot("character-form")
        page.click("text=Create character")
        portal.heading("Characters")
        lap("created")
        portal.wait(
            "document.querySelector('[data-avatar-id]')?.dataset.status === 'READY'",
            "the character READY",
        )
        avatar_id = page.get_attribute("[data-avatar-id]", "data-avatar-id")
        assert "Mia" in page.inner_text("[data-avatar-id]")
        portal.shot("characters")
        lap("ready")

        # Preview & test: a call with a per-call start script.
        page.click(f"[data-avatar-id='{avatar_id}'] >> text=Test")
        portal.heading("Preview & test: Ada")
        page.get_by_label("Start script for this call").fill(START_SCRIPT)
        page.check("#mic-off")
        assert page.is_checked("#send-tools")
        page.click("#start-call")
        portal.wait("document.querySelector('main').dataset.callStatus === 'active'", "connected")
        portal.wait(
            f"""[...document.querySelectorAll('#transcript li[data-role=assistant] .text')]
                .some(e => e.textContent === {json.dumps(START_SCRIPT)})
                && document.querySelector('#avatar-state').dataset.state === 'listening'""",
            "the per-call start script, heard",
        )
        lap("greeting")
        video = page.evaluate(
            """async () => {
                const v = document.getElementById('avatar-video');
                const frames = () => v.getVideoPlaybackQuality().totalVideoFrames;
                const before = frames();
                await new Promise(r => setTimeout(r, 1500));
                return {w: v.videoWidth, h: v.videoHeight, paused: v.paused,
                        frames: frames() - before};
            }"""
        )
        assert (video["w"], video["h"]) == (1088, 704) and not video["paused"], video
        assert video["frames"] >= 2, video
        # The button says what it does; the state shows on the stage.
        assert page.inner_text("#mic") == "Turn microphone on"
        page.evaluate("window.turns = []; portalCall.on('turn', (t) => turns.push(t))")
        page.click("#mic")
        portal.wait("document.querySelector('#mic').textContent === 'Mute microphone'", "mic on")
        assert page.inner_text("#mic-state") == "Microphone live"
        portal.wait(
            "document.querySelector('#transcript li[data-role=user] .text')?.textContent",
            "the caller's words",
        )
        asked = page.inner_text("#transcript li[data-role=user] .text")
        assert len({"biggest", "planet", "solar", "system"} & words(asked)) >= 3, asked
        portal.wait(
            """document.querySelectorAll('#transcript li[data-role=assistant]').length >= 2
               && document.querySelector('#avatar-state').dataset.state === 'listening'""",
            "an answer",
            timeout_s=120,
        )
        lap("answer")
        # A declared tool (show_planet) and a factual question: the answer comes from the
        # knowledge document, whether or not the action also fired (never only "Done").
        answer = page.evaluate(
            "[...document.querySelectorAll('#transcript li[data-role=assistant] .text')]"
            ".pop().textContent"
        )
        notes = page.evaluate("turns.length ? turns[turns.length - 1].notes : null")
        assert "there you go" not in answer.lower(), answer
        if notes:  # the search answered in time (it is skipped past its deadline under load)
            assert "jupiter" in answer.lower(), (answer, notes)
        portal.shot("test-call")
        page.click("#hang-up")
        portal.wait("document.querySelector('main').dataset.callStatus === 'ended'", "hung up")
        # Back to the still image, not a black frame.
        assert page.evaluate("document.getElementById('avatar-video').srcObject") is None
        portal.wait(
            "/after \\d+ s|min/.test(document.getElementById('call-status').textContent)",
            "duration",
        )
        session_id = page.evaluate("document.querySelector('main').dataset.sessionId")

        # The conversation, with its transcript and recording.
        page.click("#open-conversation")
        portal.heading("Ada")
        portal.wait(
            "document.querySelector('#recording')?.readyState >= 1",
            "the recording's metadata",
            timeout_s=90,
        )
        duration = page.evaluate("document.querySelector('#recording').duration")
        assert duration > 2, duration
        transcript = page.inner_text("#conversation-transcript")
        assert START_SCRIPT in transcript and asked in transcript
        href = page.get_attribute("#download-recording", "href")
        assert href and "/v1/files/" in href
        portal.shot("conversation")
        lap("conversation")

        portal.go(f"#/conversations?avatar={avatar_id}", "Conversations")
        page.wait_for_selector(f"tr[data-conversation-id='{session_id}']")
        portal.shot("conversations")

        # Voices: presets, and a custom voice from a description.
        portal.go("#/voices", "Voices")
        page.locator(".voice-form").get_by_label("Name", exact=True).fill("Calm narrator")
        page.get_by_label("Describe the voice").fill(
            "A calm, deep male voice, middle-aged, speaking slowly and warmly."
        )
        page.click("text=Create voice")
        portal.wait(
            "document.querySelector('#custom-voices [data-status=READY]')",
            "the custom voice READY",
            timeout_s=90,
        )
        portal.shot("voices")
        lap("voice")

        portal.go("#/documents", "Documents")
        assert "Ada" in page.inner_text("#documents")
        portal.shot("documents")

        portal.go("#/usage", "Usage")
        today = page.evaluate("new Date().toISOString().slice(0, 10)")
        sessions = page.get_attribute(f"#sessions-chart rect[data-date='{today}']", "data-value")
        assert sessions == "1"
        portal.shot("usage")

        portal.go("#/keys", "API keys")
        page.get_by_label("Name").fill("ci")
        page.click("text=Create key")
        secret = page.input_value("#new-key-value")
        assert secret.startswith("oc_")
        portal.shot("keys")
        page.click("button[aria-label='Revoke ci']")
        page.click("#confirm-ok")
        portal.wait(
            "document.querySelector('#api-keys').innerText.includes('REVOKED')", "key revoked"
        )
        assert secret not in page.content()  # the table never holds it

        page.click("#sign-out")
        page.wait_for_selector("#api-key")
        assert page.evaluate("sessionStorage.length") == 0
        assert portal.errors == []
    finally:
        context.close()
    print(f"portal journey: {time.monotonic() - started:.1f} s, laps {timings}")


def test_small_screens_and_the_keyboard(server: Server, chromium: Any) -> None:
    """The gallery on a phone-sized screen; the sign-in form works from the keyboard."""
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        page.goto(f"{server.base_url}/portal/#/characters")
        page.keyboard.type(API_KEY)  # the key field has focus
        page.keyboard.press("Enter")
        portal.heading("Characters")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"horizontal scroll on a phone: {width}px"
        # Focus follows the route to the page's heading; a fresh load starts at the skip link.
        assert page.evaluate("document.activeElement.textContent") == "Characters"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Create a character"
        page.reload()
        portal.heading("Characters")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
        if os.environ.get("OPENCHARACTERS_PORTAL_SHOTS", "1") == "1":
            portal.shot("characters-phone")
        assert portal.errors == []
    finally:
        context.close()
