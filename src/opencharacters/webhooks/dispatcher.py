"""The delivery loop of one server process: claims due deliveries from the outbox, sends them
concurrently, logs each attempt and schedules retries with exponential back-off.

Any number of processes may run it against one database: a delivery is leased to the process
that claimed it (for the request timeout plus a margin), so a process killed mid-request leaves
a lease that simply runs out, and another process — or this one restarted — sends it again.
Database work runs in threads and requests are asynchronous: the event loop never waits."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from opencharacters.domain.timefmt import utcnow
from opencharacters.settings import Settings
from opencharacters.store.db import Database
from opencharacters.store.webhooks import (
    AttemptOutcome,
    DeliveryJob,
    claim_due,
    prune,
    record_attempt,
)
from opencharacters.webhooks.sender import WebhookSender, webhook_policy

log = logging.getLogger(__name__)
LEASE_MARGIN_S = 5.0
PRUNE_EVERY_S = 3600.0


class WebhookDispatcher:
    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._sender = WebhookSender(
            timeout_s=settings.webhook_timeout_s,
            policy=webhook_policy(settings.webhook_allow_private, settings.fetch_allow_networks),
        )
        self._last_prune = 0.0

    @property
    def lease_s(self) -> float:
        return self.settings.webhook_timeout_s + LEASE_MARGIN_S

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="webhook-dispatcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Unfinished attempts keep their lease and are sent again once it runs out.
        for job in list(self._in_flight):
            job.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._sender.close()

    def _claim(self, limit: int) -> list[DeliveryJob]:
        with self.db.session() as db:
            return claim_due(db, limit=limit, lease_s=self.lease_s)

    def _record(self, job: DeliveryJob, outcome: AttemptOutcome) -> None:
        with self.db.session() as db:
            record_attempt(
                db,
                job,
                outcome,
                max_attempts=self.settings.webhook_max_attempts,
                base_s=self.settings.webhook_retry_base_s,
                max_s=self.settings.webhook_retry_max_s,
            )

    def _prune(self) -> None:
        cutoff = utcnow() - timedelta(days=self.settings.webhook_retention_days)
        with self.db.session() as db:
            prune(db, cutoff)

    async def run_once(self) -> int:
        """Claims and starts what is due and fits; returns how many deliveries started."""
        free = self.settings.webhook_concurrency - len(self._in_flight)
        if free <= 0:
            return 0
        jobs = await asyncio.to_thread(self._claim, free)
        for job in jobs:
            task = asyncio.create_task(self._deliver(job), name=f"webhook-{job.delivery_id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
        return len(jobs)

    async def _deliver(self, job: DeliveryJob) -> None:
        try:
            outcome = await self._sender.send(job)
        except Exception as exc:  # counted as a failed attempt, never a lost lease
            log.exception("sending webhook %s failed", job.delivery_id)
            outcome = AttemptOutcome(None, None, f"request failed: {type(exc).__name__}", None)
        if not outcome.delivered:
            log.info(
                "webhook %s to %s, attempt %d: %s",
                job.event_id,
                job.url,
                job.attempt,
                outcome.error,
            )
        try:
            await asyncio.to_thread(self._record, job, outcome)
        except Exception:
            log.exception("recording webhook attempt %s failed", job.delivery_id)
        self.wake()  # the same session's next event may be due now

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.run_once()
                if loop.time() - self._last_prune > PRUNE_EVERY_S:
                    self._last_prune = loop.time()
                    await asyncio.to_thread(self._prune)
            except Exception:
                log.exception("webhook delivery pass failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.webhook_poll_s)
            self._wake.clear()
