"""Token buckets: the request rate per organization, and failed authentications per client
address.

With SQLite (one server process) the buckets live in memory (`RateLimiter`). With PostgreSQL
several API processes may serve one organization behind a load balancer, so the buckets live in
the database (`SharedRateLimiter`, store/rate_buckets.py): one atomic upsert per request, about
half a millisecond on a local PostgreSQL. PostgreSQL rather than Redis because the API nodes
need PostgreSQL anyway: Redis would be one more engine to run, secure and keep alive only for
this, and a Redis outage would then have to be a second failure mode of every request."""

from __future__ import annotations

import math
import threading
import time
from typing import Protocol

from opencharacters.store import rate_buckets
from opencharacters.store.db import Database


class Limiter(Protocol):
    def wait(self, key: str) -> float: ...

    def acquire(self, key: str) -> float: ...


class SharedRateLimiter:
    """Buckets in PostgreSQL, shared by every API process; same answers as RateLimiter.
    Blocking: call it from the request's worker thread, as authentication is."""

    def __init__(self, db: Database, name: str, per_minute: int, burst: int) -> None:
        self.db = db
        self.name = name
        """Keeps the kinds of bucket apart in the one table (organizations, addresses)."""
        self.rate = per_minute / 60.0
        self.burst = float(burst)

    def wait(self, key: str) -> float:
        with self.db.session() as db:
            return rate_buckets.wait(
                db, f"{self.name}:{key}", rate_per_s=self.rate, burst=self.burst
            )

    def acquire(self, key: str) -> float:
        with self.db.session() as db:
            return rate_buckets.take(
                db, f"{self.name}:{key}", rate_per_s=self.rate, burst=self.burst
            )


def make_limiter(db: Database, name: str, per_minute: int, burst: int) -> Limiter:
    if db.engine.dialect.name == "postgresql":
        return SharedRateLimiter(db, name, per_minute, burst)
    return RateLimiter(per_minute, burst)


class RateLimiter:
    """Buckets in this process's memory (SQLite: one server process)."""

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
