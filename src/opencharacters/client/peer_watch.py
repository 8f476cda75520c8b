"""Noticing, within seconds, that the server of a call is gone.

WebRTC alone notices late: after a kill -9 nothing closes the data channel, and ICE consent
checks give up only after about 30 s (a probe of the old client hung for minutes, then died with a
traceback after ~118 s). The server sends audio every 20 ms and video at its frame rate for the
whole call, so a silence of a couple of seconds is already unusual: then the session is asked
for over HTTP, and a refused connection or an ended session settles it at once. A server that
is alive but sends nothing is given up after `media_timeout_s`. Signals from the peer itself
(data channel closed, connection failed, a track ended) are confirmed the same way, to say why."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from opencharacters.client.errors import PeerGone

log = logging.getLogger(__name__)

Probe = Callable[[], Awaitable[str | None]]
"""Asks the server about the session: a reason when it is conclusively gone or the session is
over ("refuses connections", "the session ended FAILED (…)"), None when alive or unknown."""


class PeerWatch:
    def __init__(
        self,
        probe: Probe,
        on_lost: Callable[[PeerGone], None],
        *,
        media_timeout_s: float = 15.0,
        probe_after_s: float = 2.0,
        poll_s: float = 0.25,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self._on_lost = on_lost
        self.media_timeout_s = media_timeout_s
        self.probe_after_s = probe_after_s
        self._poll_s = poll_s
        self._clock = clock
        self._last_media = clock()
        self._signals: list[str] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.lost: PeerGone | None = None

    def start(self) -> None:
        self._last_media = self._clock()
        self._task = asyncio.ensure_future(self._run())

    def media_arrived(self) -> None:
        self._last_media = self._clock()

    def signal(self, what: str) -> None:
        """The peer showed it is ending (channel closed, connection failed, track ended)."""
        if not self._stopping:
            self._signals.append(what)
            self._wake.set()

    def raise_if_lost(self) -> None:
        if self.lost is not None:
            raise self.lost

    def expect_end(self) -> None:
        """We asked to end the call: what follows (closed channel, ended tracks) is expected."""
        self._stopping = True

    async def stop(self) -> None:
        self.expect_end()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        next_probe = 0.0
        while self.lost is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._poll_s)
            self._wake.clear()
            now = self._clock()
            silent_s = now - self._last_media
            if self._signals:
                reason = await self._probe()
                self._declare(f"{self._signals[0]}" + (f": {reason}" if reason else ""))
            elif silent_s >= self.media_timeout_s:
                reason = await self._probe()
                detail = f": {reason}" if reason else " (the server still reports the session)"
                self._declare(f"no audio or video from the server for {silent_s:.0f} s{detail}")
            elif silent_s >= self.probe_after_s and now >= next_probe:
                next_probe = now + self.probe_after_s
                reason = await self._probe()
                if reason is not None:
                    self._declare(f"no audio or video for {silent_s:.1f} s, and {reason}")

    def _declare(self, reason: str) -> None:
        if self._stopping or self.lost is not None:
            return
        self.lost = PeerGone(f"call lost: {reason}")
        log.info("%s", self.lost)
        self._on_lost(self.lost)
