"""Background jobs of the API processes (avatar processing, avatar videos, custom voices).

They share one CPU gate per process (background_cpu.py): image analysis and video rendering
are CPU-bound, so they run one at a time, on a thread below everything else, and leave the
cores to live sessions.

Several API processes may share one database. Each job runs under a lease (store/job_leases.py):
the process that claims it runs it and renews the lease while it works; every process rescans
the unfinished jobs every half lease and claims those whose lease ran out, so a job whose
process died is picked up again. The job's final write checks the lease in its own transaction
(`check_lease`), so a process that lost its lease (it stalled, or was thought dead) cannot
overwrite what the process that took over wrote: a job is run to completion once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from opencharacters.background_cpu import BackgroundCpu
from opencharacters.blobs.store import BlobStore
from opencharacters.settings import Settings
from opencharacters.store import job_leases
from opencharacters.store.db import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Lease:
    kind: str
    key: str
    token: str


class LeaseLost(Exception):
    """This process's lease on the job was taken over: its result must not be written."""


_current: ContextVar[Lease | None] = ContextVar("job_lease", default=None)
"""The lease of the job running in this task; `asyncio.to_thread` carries it into the thread
that makes the job's final write, so the write helpers need no extra parameter."""


def check_lease(db: Session) -> None:
    """Raises LeaseLost unless the running job still holds its lease (no-op outside a job);
    call it inside the transaction of a job's result, before writing it."""
    lease = _current.get()
    if lease is not None and not job_leases.holds(db, lease.kind, lease.key, lease.token):
        raise LeaseLost(f"the lease on {lease.kind} {lease.key} was taken over")


class BackgroundJobs:
    def __init__(self, name: str, cpu_gate: BackgroundCpu, db: Database, lease_s: float) -> None:
        self.name = name
        self.cpu_gate = cpu_gate
        self.db = db
        self.lease_s = lease_s
        self._jobs: dict[str, asyncio.Task[None]] = {}

    def running(self, key: str) -> bool:
        return key in self._jobs

    def start(self, key: str, job: Coroutine[Any, Any, None]) -> None:
        if key in self._jobs:
            job.close()  # already running here
            return
        task = asyncio.create_task(self._leased(key, job), name=f"{self.name}-{key}")
        self._jobs[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    async def _leased(self, key: str, job: Coroutine[Any, Any, None]) -> None:
        try:
            token = await asyncio.to_thread(self._claim, key)
        except BaseException:
            job.close()
            raise
        if not token:
            job.close()  # another process holds it
            return
        lease = Lease(self.name, key, token)
        _current.set(lease)
        me = asyncio.current_task()
        assert me is not None
        keeper = asyncio.create_task(self._keep(lease, me), name=f"{self.name}-{key}-lease")
        try:
            await job
        except LeaseLost as lost:
            log.warning("%s; this process's result was dropped", lost)
        finally:
            keeper.cancel()
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._release, lease)

    def _claim(self, key: str) -> str:
        with self.db.session() as db:
            return job_leases.claim(db, self.name, key, self.lease_s)

    def _release(self, lease: Lease) -> None:
        with self.db.session() as db:
            job_leases.release(db, lease.kind, lease.key, lease.token)

    def _renew(self, lease: Lease) -> bool:
        with self.db.session() as db:
            return job_leases.renew(db, lease.kind, lease.key, lease.token, self.lease_s)

    async def _keep(self, lease: Lease, job: asyncio.Task[None]) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                renewed = await asyncio.to_thread(self._renew, lease)
            except Exception as exc:  # the database is away: try again; the final write checks
                log.warning("renewing the lease on %s %s failed: %s", lease.kind, lease.key, exc)
                continue
            if not renewed:
                log.warning("%s %s: the lease was taken over; stopping here", lease.kind, lease.key)
                job.cancel()
                return

    def _forget(self, key: str, done: asyncio.Task[None]) -> None:
        if self._jobs.get(key) is done:
            del self._jobs[key]

    def cancel(self, key: str) -> None:
        job = self._jobs.get(key)
        if job is not None:
            job.cancel()

    async def stop(self) -> None:
        jobs = list(self._jobs.values())
        for job in jobs:
            job.cancel()
        await asyncio.gather(*jobs, return_exceptions=True)


class JobRunner:
    """Stored work of one kind, run in the background by id: submitted when created, cancelled
    when deleted, resumed after a restart or another process's death. Subclasses say what is
    unfinished and how to run."""

    kind = "job"

    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, cpu_gate: BackgroundCpu
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self._jobs = BackgroundJobs(self.kind, cpu_gate, db, settings.job_lease_s)

    def submit(self, key: str) -> None:
        self._jobs.start(key, self._run(key))

    def cancel(self, key: str) -> None:
        self._jobs.cancel(key)

    def resume_unfinished(self) -> None:
        for key in self._unfinished():
            self.submit(key)

    async def rescan(self) -> None:
        """Claims the unfinished jobs no process holds (their process died)."""
        for key in await asyncio.to_thread(self._orphans):
            self.submit(key)

    def _orphans(self) -> list[str]:
        with self.db.session() as db:
            held = job_leases.live_keys(db, self.kind)
        return [key for key in self._unfinished() if key not in held]

    async def stop(self) -> None:
        await self._jobs.stop()

    def _unfinished(self) -> list[str]:
        raise NotImplementedError

    async def _run(self, key: str) -> None:
        raise NotImplementedError


class JobScanner:
    """Every half lease, the runners claim the jobs of processes that died."""

    def __init__(
        self, db: Database, lease_s: float, rescans: Sequence[Callable[[], Awaitable[None]]]
    ):
        self.db = db
        self.interval_s = lease_s / 2
        self._rescans = list(rescans)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="job-scanner")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                for rescan in self._rescans:
                    await rescan()
                await asyncio.to_thread(self._forget_stale)
            except Exception as exc:  # the database is away: the next pass tries again
                log.warning("rescanning background jobs failed: %s", exc)

    def _forget_stale(self) -> None:
        with self.db.session() as db:
            job_leases.forget_stale(db)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
