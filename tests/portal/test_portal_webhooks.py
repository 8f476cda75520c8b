"""The portal's Webhooks page in Debian's Chromium: add an endpoint (a receiver on localhost that
verifies signatures), send a test event with the button, read the delivery log, disable and
delete it. The browser console must stay free of errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.portal.test_portal_browser import SCREENSHOTS, Portal
from tests.support.browser import launch_chromium, server_for_browser
from tests.support.server import API_KEY, Server
from tests.support.webhook_receiver import Receiver, webhook_receiver

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ENDPOINTS = "document.querySelector('#webhook-endpoints tbody')"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with server_for_browser(
        tmp_path_factory,
        "portal-webhooks",
        OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE="true",
        OPENCHARACTERS_WEBHOOK_POLL_S="0.2",
    ) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with webhook_receiver() as running:
        yield running


def test_webhooks_page_adds_tests_logs_and_deletes(server: Server, receiver: Receiver) -> None:
    with launch_chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        portal = Portal(page, server)
        page.goto(f"{server.base_url}/portal/")
        page.wait_for_selector("#api-key")
        page.fill("#api-key", API_KEY)
        page.keyboard.press("Enter")
        portal.heading("Characters")
        portal.go("#/webhooks", "Webhooks")
        page.fill("input[name=url]", receiver.url)
        page.fill("input[name=description]", "local receiver")
        page.check("input[value='session.completed']")
        page.click("text=Add endpoint")
        portal.wait(
            "document.querySelector('#new-webhook-secret')?.value.startsWith('whsec_')", "secret"
        )
        receiver.secret = page.input_value("#new-webhook-secret")
        row = page.locator("#webhook-endpoints tbody tr").first
        assert "session.completed" in row.inner_text()
        row.locator("text=Send test event").click()
        receiver.wait_for(lambda r: len(r.delivered()) == 1, 20)
        assert receiver.delivered()[0].type == "webhook.test"
        assert receiver.rejected == []
        portal.wait(
            "document.querySelector('#webhook-deliveries tbody')?.innerText.toLowerCase()"
            ".includes('succeeded')",
            "the delivery log shows the test event delivered",
            timeout_s=30,
        )
        log = page.inner_text("#webhook-deliveries")
        assert "webhook.test" in log and "HTTP 200" in log and " ms" in log
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "webhooks.png"), full_page=True)
        row.locator("text=Disable").click()
        portal.wait(
            f"{ENDPOINTS}?.innerText.toLowerCase().includes('disabled')",
            "the endpoint shows disabled",
        )
        page.locator("#webhook-endpoints tbody tr").first.locator("text=Delete").click()
        page.click("#confirm-ok")
        portal.wait(
            f"{ENDPOINTS}?.innerText.includes('No endpoints yet')",
            "the endpoint is gone",
        )
        assert portal.errors == []
        context.close()
