"""Debian's Chromium driven by Playwright for the browser tests (never a browser download)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright import sync_api as playwright

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
