"""The preset characters in the portal's gallery: usable (a test page), not editable."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.portal.test_portal_browser import Portal
from tests.support.browser import launch_chromium, server_for_browser
from tests.support.server import API_KEY, Server

playwright = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_for_browser(tmp_path_factory, "portal-presets") as running:
        yield running


def test_presets_are_in_the_gallery_usable_and_not_editable(server: Server) -> None:
    with launch_chromium() as chromium:
        context: Any = chromium.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        portal = Portal(page, server)
        page.goto(f"{server.base_url}/portal/#/characters")
        page.fill("#api-key", API_KEY)
        page.keyboard.press("Enter")
        portal.heading("Characters")
        portal.wait(
            "document.querySelectorAll('.presets li[data-preset-id]').length === 9",
            "nine preset cards",
        )
        cards = page.locator(".presets li[data-preset-id]")
        names = [cards.nth(i).locator("h2").inner_text() for i in range(9)]
        assert {"Mina", "Mochi", "Sofia", "Marco"} <= set(names)
        assert page.locator(".presets a:has-text('Edit')").count() == 0
        portal.wait(
            "[...document.querySelectorAll('.presets img')]"
            ".every(i => i.complete && i.naturalWidth > 0)",
            "the preset images load",
        )
        page.locator(".presets li[data-preset-id='cat-character'] a:has-text('Test')").click()
        portal.heading("Preview & test: Mochi")
        assert page.locator("main .badge:has-text('Preset')").count() == 1
        assert page.locator("main a:has-text('Edit character')").count() == 0
        assert portal.errors == []
        context.close()
