"""A newcomer's first ten minutes in the portal, in Debian's Chromium (issue 18), without a call:
the character form keeps work (documents added inside it, a warning before leaving it changed),
says what is wrong where it is wrong (aria-invalid, focus, "Tool 1 name"), keeps focus on Enter
in "Add a parameter"; a faceless picture FAILS showing the picture and pointing to Face points;
the active sessions with End and the queue place; voices (a short sample refused by the form,
what a description was read as, no eleven_* model names, the name kept); phone width. The
console stays free of errors throughout."""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.portal.test_portal_browser import Portal
from tests.support.browser import launch_chromium, server_for_browser
from tests.support.http import api, ready_avatar
from tests.support.media import FACE_JPEG, noise_png
from tests.support.server import API_KEY, Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # One call slot, as on a small box: a second session waits in the queue.
    with server_for_browser(
        tmp_path_factory, "newcomer", OPENCHARACTERS_SESSION_CAPACITY="1"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def chromium(server: Server) -> Iterator[Any]:
    with launch_chromium() as browser:
        yield browser


def sign_in(page: Any, portal: Portal, server: Server, hash_: str, heading: str) -> None:
    page.goto(f"{server.base_url}/portal/{hash_}")
    page.fill("#api-key", API_KEY)
    page.keyboard.press("Enter")
    portal.heading(heading)


def active(page: Any) -> str:
    return str(page.evaluate("document.activeElement.dataset.key || document.activeElement.id"))


def test_the_character_form_keeps_work_and_says_what_is_wrong(
    server: Server, chromium: Any
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        sign_in(page, portal, server, "#/characters/new", "Create a character")
        # Submitting an empty form: the first invalid field is marked and focused.
        page.click("text=Create character")
        assert page.evaluate("document.activeElement.getAttribute('aria-invalid')") == "true"
        assert page.inner_text("#form-summary") == "Please fix the highlighted fields."
        assert page.locator("[aria-invalid=true]").count() >= 3  # image, name, personality
        assert "Name: required." in page.inner_text("[data-field=name] .field-error")

        page.set_input_files("#image-file", str(FACE_JPEG))
        info = page.locator("#image-info")
        info.wait_for(state="visible")
        portal.wait("/pixels/.test(document.getElementById('image-info').textContent)", "size")
        assert "512 \u00d7 512 pixels" in info.inner_text()  # the source's size, not a thumbnail's
        page.get_by_label("Name", exact=True).fill("Ada")
        page.get_by_label("Personality").fill("You are Ada, an astronaut.")

        # A tool: its name checked on leaving the field, in the form's words.
        page.click("#add-tool")
        name = page.locator(".tool input[data-key='tools[0].name']")
        name.fill("show planet")
        page.keyboard.press("Tab")
        line = page.locator(".field-error[data-path='tools[0].name']")
        assert "must match" in line.inner_text() and name.get_attribute("aria-invalid") == "true"
        page.fill(".tool textarea", "Shows a picture of a planet")
        page.click("text=Create character")
        assert line.inner_text().startswith("Tool 1 name: must match"), line.inner_text()
        assert active(page) == "tools[0].name"  # focus on the field to fix
        name.fill("show_planet")
        # Enter on "Add a parameter" puts focus in the new parameter's name (not on <body>).
        page.focus("[data-add-parameter='0']")
        page.keyboard.press("Enter")
        assert active(page) == "tools[0].parameters[0].name"
        page.keyboard.type("planet")
        page.fill("[aria-label='Description of parameter 1']", "the planet to show")

        # A document added without leaving the form.
        page.click("#new-document summary")
        page.get_by_label("Document name").fill("Planets")
        page.get_by_label("Document content (text or Markdown)").fill(
            "# Planets\n\nJupiter is the biggest planet in the solar system."
        )
        page.click("#add-document")
        portal.wait(
            "[...document.querySelectorAll('#document-choices input:checked')]"
            ".some(i => i.nextElementSibling.textContent.startsWith('Planets'))",
            "the new document, attached",
        )
        assert "not used yet" in page.inner_text("#document-choices")
        assert page.get_by_label("Name", exact=True).input_value() == "Ada"  # nothing lost

        # Leaving the changed form asks first; staying keeps everything.
        page.click("nav >> text=Voices")
        page.wait_for_selector("dialog#confirm[open]")
        assert "not saved" in page.inner_text("#confirm-message")
        page.click("dialog#confirm button[value=cancel]")
        portal.wait("location.hash === '#/characters/new'", "the address put back")
        assert page.get_by_label("Personality").input_value() == "You are Ada, an astronaut."
        portal.shot("character-form-validation")
        page.click("text=Create character")
        portal.heading("Characters")  # saved: no question on the way out
        portal.wait(
            "document.querySelector('[data-avatar-id]')?.dataset.status === 'READY'", "READY"
        )
        assert portal.errors == []
    finally:
        context.close()


def test_a_faceless_picture_fails_showing_it_and_pointing_to_face_points(
    server: Server, chromium: Any, tmp_path: Path
) -> None:
    picture = tmp_path / "pattern.png"
    picture.write_bytes(noise_png(400, 300, seed=3))
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        sign_in(page, portal, server, "#/characters/new", "Create a character")
        page.set_input_files("#image-file", str(picture))
        page.get_by_label("Name", exact=True).fill("Pattern")
        page.get_by_label("Personality").fill("You are a pattern.")
        page.click("text=Create character")
        portal.heading("Characters")
        card = "[data-avatar-id][data-status=FAILED]"
        portal.wait(f"document.querySelector('{card}')", "the picture FAILED")
        failure = page.inner_text(f"{card} .failure")
        assert "No face was found" in failure and "Face points section" in failure, failure
        assert "facePoints" not in failure  # the API's name, not the form's
        portal.wait(
            f"document.querySelector('{card} img').naturalWidth > 0"
            f" && !document.querySelector('{card} img').src.endsWith('icon.svg')",
            "the uploaded picture on the failed card",
        )
        portal.shot("characters-failed")
        assert portal.errors == []
    finally:
        context.close()


def test_active_sessions_with_end_and_the_queue_place(server: Server, chromium: Any) -> None:
    with api(server) as http:
        avatar = ready_avatar(http, name="Queued")
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}}
        held = http.post("/v1/realtime_sessions", json=body).json()["id"]  # never joined
        waiting = http.post("/v1/realtime_sessions", json=body).json()["id"]
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        sign_in(page, portal, server, "#/test", "Preview & test")
        row = f"#active-sessions tr[data-session-id='{waiting}']"
        portal.wait(
            f"document.querySelector(\"{row}\")?.textContent.includes('queued behind 1 session')",
            "the waiting session's place",
        )
        assert "READY" in page.inner_text(f"#active-sessions tr[data-session-id='{held}']").upper()
        portal.shot("active-sessions")
        page.click(f"#active-sessions tr[data-session-id='{held}'] button")
        # The slot is free: the waiting one gets it; End it too.
        portal.wait(
            f"document.querySelector(\"{row}\")?.dataset.status === 'READY'", "promoted", 20
        )
        page.click(f"{row} button")
        portal.wait("!document.querySelector('#active-sessions tbody tr')", "all ended")
        with api(server) as http:
            assert http.get("/v1/realtime_sessions").json() == {"data": []}
        assert portal.errors == []
    finally:
        context.close()


def short_wav(path: Path) -> Path:
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "Hello there, this is a short sample of my voice."],
        check=True,
        capture_output=True,
    ).stdout
    path.write_bytes(io.BytesIO(wav).getvalue())
    return path


def test_voices_refuse_a_short_sample_and_say_what_they_understood(
    server: Server, chromium: Any, tmp_path: Path
) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        sign_in(page, portal, server, "#/voices", "Voices")
        assert "eleven_" not in page.content()
        form = page.locator(".voice-form")
        form.get_by_label("Name", exact=True).fill("Deep narrator")
        page.get_by_label("Describe the voice").fill(
            "A calm, deep male voice, middle-aged, speaking slowly and warmly."
        )
        page.click("text=Make a preview")
        portal.wait(
            "document.getElementById('voice-understood').textContent.startsWith('Understood:')",
            "what the description was read as",
            timeout_s=90,
        )
        understood = page.inner_text("#voice-understood")
        assert "male" in understood and "slow" in understood, understood

        # A 3-second clone sample: refused by the form before anything is sent.
        page.click("label[for=source-audio]")
        page.set_input_files("#voice-sample", str(short_wav(tmp_path / "short.wav")))
        page.click("text=Create voice")
        error = page.locator("#voice-sample-error")
        portal.wait(
            "document.getElementById('voice-sample-error').textContent !== ''", "the refusal"
        )
        assert "a sample must be 10 seconds to 5 minutes" in error.inner_text()
        assert page.get_attribute("#voice-sample", "aria-invalid") == "true"
        with api(server) as http:
            assert http.get("/v1/voices").json()["data"] == []

        # From the description: created, and the form keeps the name.
        page.click("label[for=source-text]")
        page.click("text=Create voice")
        page.wait_for_selector("#custom-voices [data-voice-id]")
        assert form.get_by_label("Name", exact=True).input_value() == "Deep narrator"
        assert portal.errors == []
    finally:
        context.close()


def test_phone_width(server: Server, chromium: Any) -> None:
    context = chromium.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    portal = Portal(page, server)
    try:
        sign_in(page, portal, server, "#/keys", "API keys")
        with api(server) as http:
            avatar = ready_avatar(http, name="Phone")
            body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}}
            session = http.post("/v1/realtime_sessions", json=body).json()["id"]
        for hash_, heading, cells in [
            ("#/keys", "API keys", "#api-keys td"),
            ("#/characters", "Characters", None),
            ("#/voices", "Voices", None),
            ("#/test", "Preview & test", "#active-sessions td"),
            ("#/characters/new", "Create a character", None),
        ]:
            portal.go(hash_, heading)
            if cells:
                page.wait_for_selector(cells)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{hash_}: horizontal scroll on a phone ({width}px)"
            tab = page.locator("nav a[aria-current=page]").bounding_box()
            assert tab and tab["x"] >= 0 and tab["x"] + tab["width"] <= 390, (hash_, tab)
            if cells:  # every column on screen, under its name (Status, Actions included)
                for box in page.locator(cells).evaluate_all(
                    "cells => cells.map(c => c.getBoundingClientRect().right)"
                ):
                    assert box <= 390, (hash_, box)
            if hash_ == "#/keys":
                revoke = page.locator("button[aria-label^='Revoke']").first.bounding_box()
                assert revoke and revoke["x"] + revoke["width"] <= 390
                portal.shot("keys-phone")
            if hash_ == "#/test":
                assert "STATUS" in page.inner_text("#active-sessions").upper()
                portal.shot("test-phone")
        httpx.delete(
            f"{server.base_url}/v1/realtime_sessions/{session}",
            headers={"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"},
        )
        time.sleep(0)
        assert portal.errors == []
    finally:
        context.close()
