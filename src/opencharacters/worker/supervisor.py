"""`opencharacters serve` on one box: the API process starts its media workers and keeps them up.

Each worker is its own process (`opencharacters worker`), so a call's media never shares the
API's event loop and a worker crash takes only its own calls (they FAIL, WORKER_LOST). A worker
that exits unexpectedly is started again; stopping the server stops the workers with SIGTERM
(their calls end FAILED, SERVER_SHUTDOWN, recordings stored). If the API process is killed, its
workers finish the calls they run and then exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import uuid

from opencharacters.settings import Settings
from opencharacters.store.db import Database
from opencharacters.store.tables import MediaWorker

log = logging.getLogger(__name__)

START_TIMEOUT_S = 300.0
"""Registration waits for the models to load (OPENCHARACTERS_PRELOAD_ENGINES)."""
STOP_TIMEOUT_S = 25.0
RESTART_DELAY_S = 1.0


class WorkerSupervisor:
    def __init__(self, settings: Settings, db: Database, count: int) -> None:
        self._settings = settings
        self._db = db
        self._count = count
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    def _command(self, worker_id: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "opencharacters",
            "worker",
            "--slots",
            str(self._settings.session_capacity),
            "--worker-id",
            worker_id,
            "--parent-pid",
            str(os.getpid()),
            "--log-level",
            logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower(),
        ]

    def _environment(self) -> dict[str, str]:
        """The worker reads the same settings; what came from flags is passed on explicitly."""
        env = dict(os.environ)
        env["OPENCHARACTERS_DATA_DIR"] = str(self._settings.data_dir)
        env["OPENCHARACTERS_DATABASE_URL"] = self._settings.resolved_database_url
        env["OPENCHARACTERS_BLOB_DIR"] = str(self._settings.resolved_blob_dir)
        env["OPENCHARACTERS_BLOB_STORE"] = self._settings.blob_store
        env["OPENCHARACTERS_PUBLIC_URL"] = self._settings.resolved_public_url
        return env

    async def start(self) -> None:
        """Starts the workers and returns once each has registered."""
        await asyncio.gather(*(self._spawn(index) for index in range(self._count)))
        self._watchers = [
            asyncio.create_task(self._watch(index), name=f"worker-{index}")
            for index in range(self._count)
        ]

    async def _spawn(self, index: int) -> None:
        worker_id = str(uuid.uuid4())
        process = await asyncio.create_subprocess_exec(
            *self._command(worker_id), env=self._environment()
        )
        self._processes[index] = process
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not await asyncio.to_thread(self._registered, worker_id):
            if process.returncode is not None:
                raise RuntimeError(f"media worker {index} exited with {process.returncode}")
            if asyncio.get_running_loop().time() > deadline:
                process.kill()
                raise RuntimeError(f"media worker {index} did not register in time")
            await asyncio.sleep(0.1)

    def _registered(self, worker_id: str) -> bool:
        with self._db.session() as db:
            return db.get(MediaWorker, worker_id) is not None

    async def _watch(self, index: int) -> None:
        while not self._stopping:
            code = await self._processes[index].wait()
            if self._stopping:
                return
            log.error("media worker %d exited (%s); starting it again", index, code)
            await asyncio.sleep(RESTART_DELAY_S)
            try:
                await self._spawn(index)
            except Exception:
                log.exception("media worker %d could not be started again", index)

    async def stop(self) -> None:
        self._stopping = True
        for watcher in self._watchers:
            watcher.cancel()
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        for process in self._processes.values():
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("media worker %d did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
