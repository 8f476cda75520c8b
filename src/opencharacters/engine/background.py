"""Background jobs of one server process (avatar processing, avatar videos).

They share one CPU gate: image analysis and video rendering are CPU-bound, and running one
at a time leaves the other core to live sessions."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from opencharacters.blobs.store import BlobStore
from opencharacters.settings import Settings
from opencharacters.store.db import Database


class BackgroundJobs:
    def __init__(self, name: str, cpu_gate: asyncio.Semaphore) -> None:
        self.name = name
        self.cpu_gate = cpu_gate
        self._jobs: dict[str, asyncio.Task[None]] = {}

    def start(self, key: str, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(job, name=f"{self.name}-{key}")
        self._jobs[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

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
    when deleted, resumed after a restart. Subclasses say what is unfinished and how to run."""

    kind = "job"

    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, cpu_gate: asyncio.Semaphore
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self._jobs = BackgroundJobs(self.kind, cpu_gate)

    def submit(self, key: str) -> None:
        self._jobs.start(key, self._run(key))

    def cancel(self, key: str) -> None:
        self._jobs.cancel(key)

    def resume_unfinished(self) -> None:
        for key in self._unfinished():
            self.submit(key)

    async def stop(self) -> None:
        await self._jobs.stop()

    def _unfinished(self) -> list[str]:
        raise NotImplementedError

    async def _run(self, key: str) -> None:
        raise NotImplementedError
