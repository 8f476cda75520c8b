"""One clock per session: every audio sample, frame and transcript word is placed on it."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from opencharacters.domain.timefmt import utcnow


class SessionClock:
    def __init__(self) -> None:
        self._origin = time.monotonic()
        self.monotonic_origin = self._origin
        self._origin_wall = utcnow()

    def now(self) -> float:
        """Seconds since the session's media began."""
        return time.monotonic() - self._origin

    def wall(self, at_s: float) -> datetime:
        """The UTC time of a session-clock instant (for transcript timestamps)."""
        return self._origin_wall + timedelta(seconds=at_s)
