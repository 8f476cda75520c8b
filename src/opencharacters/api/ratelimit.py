"""Token buckets in memory (one server process): the request rate per organization, and failed
authentications per client address."""

from __future__ import annotations

import math
import threading
import time


class RateLimiter:
    MAX_KEYS = 10_000

    def __init__(self, per_minute: int, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: str) -> float:
        """Seconds until `key` has a token again (0 when it has one); takes nothing."""
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        # A bucket that has refilled is the same as no bucket: drop those, so that keys seen
        # once (client addresses) do not pile up.
        for key, (tokens, last) in list(self._buckets.items()):
            if tokens + (now - last) * self.rate >= self.burst:
                del self._buckets[key]

    def acquire(self, key: str) -> float:
        """Takes one token; returns 0 when allowed, else seconds until one is available."""
        now = time.monotonic()
        with self._lock:
            if key not in self._buckets and len(self._buckets) >= self.MAX_KEYS:
                self._forget_full(now)
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def retry_after_header(wait_s: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(wait_s)))}
