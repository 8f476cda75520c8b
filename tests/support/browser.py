"""Debian's Chromium driven by Playwright for the browser tests (never a browser download)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright

from tests.support.server import Server

CHROMIUM = Path("/usr/bin/chromium")


@contextlib.contextmanager
def launch_chromium(microphone: Path | None = None) -> Iterator[Any]:
    """Headless Chromium with fake media devices; `microphone` (a 48 kHz WAV) plays from the
    start each time a page opens the microphone, then silence."""
    args = [
        "--no-sandbox",  # running as root
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        "--autoplay-policy=no-user-gesture-required",
    ]
    if microphone is not None:
        args.append(f"--use-file-for-fake-audio-capture={microphone}%noloop")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=args)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def server_for_browser(
    tmp_path_factory: pytest.TempPathFactory, name: str, **env: str
) -> Iterator[Server]:
    """A real server for a browser test module; the module is skipped without Chromium."""
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's Chromium at {CHROMIUM} (scripts/setup-system.sh)")
    running = Server(tmp_path_factory.mktemp(name), None, **env).start()
    try:
        yield running
    finally:
        running.stop()
