"""Finished recordings on their way to the blob store, kept on disk until it takes them.

A call's end never waits on the store: when the upload fails (S3 unreachable, a full disk
on a file server), the recording moves to `<data dir>/recordings-pending/` with a note of its
key, and the media worker retries it with growing pauses. Once stored, the conversation gets
its recording (and its `recording_ready` webhook) as for any recording stored late. Bounded:
a recording still pending after `MAX_PENDING_S`, or past `MAX_PENDING_BYTES` in all (oldest
first), is given up and logged as lost."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from opencharacters.blobs.store import BlobStore

log = logging.getLogger(__name__)

MAX_PENDING_S = 24 * 3600
MAX_PENDING_BYTES = 20 * 1024**3
FIRST_RETRY_S = 2.0
LONGEST_RETRY_S = 60.0


class PendingRecordings:
    def __init__(
        self,
        directory: Path,
        blobs: BlobStore,
        on_stored: Callable[[str, str], None],
        *,
        max_pending_s: float = MAX_PENDING_S,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        self._directory = directory
        self._blobs = blobs
        self._on_stored = on_stored
        """Called (on a thread) with the session id and key of a recording stored late."""
        self._max_pending_s = max_pending_s
        self._max_pending_bytes = max_pending_bytes
        self._wake = asyncio.Event()

    async def store(self, session_id: str, key: str, source: Path) -> bool:
        """Stores a finished recording; False when it was kept for later (or lost)."""
        try:
            await asyncio.to_thread(self._blobs.put_file, key, source)
        except Exception as exc:
            log.warning(
                "session %s: the blob store refused the recording (%s: %s); kept to retry",
                session_id,
                type(exc).__name__,
                exc,
            )
            await asyncio.to_thread(self._keep, session_id, key, source)
            self._wake.set()
            return False
        await asyncio.to_thread(source.unlink, missing_ok=True)
        return True

    def _keep(self, session_id: str, key: str, source: Path) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        target = self._directory / f"{session_id}.mp4"
        shutil.move(source, target)
        note = self._directory / f"{session_id}.json"
        note.write_text(json.dumps({"key": key, "since": time.time()}))
        self._enforce_bound()

    def pending(self) -> list[str]:
        """Session ids of the recordings waiting, oldest first."""
        notes = sorted(self._directory.glob("*.json"), key=lambda note: note.stat().st_mtime)
        return [note.stem for note in notes if (self._directory / f"{note.stem}.mp4").is_file()]

    def _drop(self, session_id: str, why: str) -> None:
        log.error("session %s: recording lost (%s)", session_id, why)
        (self._directory / f"{session_id}.mp4").unlink(missing_ok=True)
        (self._directory / f"{session_id}.json").unlink(missing_ok=True)

    def _enforce_bound(self) -> None:
        waiting = self.pending()
        sizes = {sid: (self._directory / f"{sid}.mp4").stat().st_size for sid in waiting}
        total = sum(sizes.values())
        for session_id in waiting:
            if total <= self._max_pending_bytes:
                break
            self._drop(session_id, f"over {self._max_pending_bytes} bytes of recordings pending")
            total -= sizes[session_id]

    def retry_once(self) -> int:
        """Tries every pending recording once; returns how many are still pending."""
        left = 0
        for session_id in self.pending():
            note = self._directory / f"{session_id}.json"
            recording = self._directory / f"{session_id}.mp4"
            try:
                meta = json.loads(note.read_text())
                key, since = str(meta["key"]), float(meta["since"])
            except (OSError, ValueError, KeyError):
                self._drop(session_id, "its note is unreadable")
                continue
            if time.time() - since > self._max_pending_s:
                self._drop(session_id, f"the blob store refused it for {self._max_pending_s:g} s")
                continue
            try:
                self._blobs.put_file(key, recording)
            except Exception as exc:
                log.info("session %s: recording still pending (%s)", session_id, exc)
                left += 1
                continue
            try:
                self._on_stored(session_id, key)
            except Exception:
                # Stored but not yet noted: keep it, so the next round notes it again.
                log.exception("session %s: noting the stored recording failed", session_id)
                left += 1
                continue
            recording.unlink(missing_ok=True)
            note.unlink(missing_ok=True)
            log.warning(
                "session %s: recording stored after %.0f s", session_id, time.time() - since
            )
        return left

    async def run(self) -> None:
        """Retries until cancelled: at once when something is kept, then 2 s, 4 s ... 60 s."""
        pause = FIRST_RETRY_S
        while True:
            self._wake.clear()  # before looking: a recording kept meanwhile sets it again
            if not await asyncio.to_thread(self.pending):
                await self._wake.wait()
                pause = FIRST_RETRY_S
            await asyncio.sleep(pause)
            left = await asyncio.to_thread(self.retry_once)
            pause = FIRST_RETRY_S if not left else min(pause * 2, LONGEST_RETRY_S)
