"""Recordings a crashed worker left behind become the conversation's recording.

A worker writes each call's recording as a fragmented MP4 under
`<data dir>/recordings-in-progress/<session id>-<start>.mp4.part`, flushed about every second.
When the worker is lost, the process that declares it lost (an API process's scheduler) remuxes
what is there into an ordinary MP4, stores it in the blob store and links it to the
conversation, so `recordingUrl` serves the call up to the crash. At start-up an API process also
picks up partial files whose session is over and whose worker is gone (a crash during the
recovery itself, or a data directory from an older version): none stays orphaned.

This needs the workers' data directory to be shared with the API (one box, or a shared volume);
workers elsewhere with their own disks keep their partial files until a worker recovers them."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from pathlib import Path

from opencharacters.blobs.store import BlobStore
from opencharacters.domain.session_states import TERMINAL, SessionStatus
from opencharacters.media.recording import salvage
from opencharacters.store.db import Database
from opencharacters.store.tables import Conversation, MediaWorker, RealtimeSession
from opencharacters.store.transcripts import set_recording
from opencharacters.store.workers import LostSession

log = logging.getLogger(__name__)

IN_PROGRESS = "recordings-in-progress"
_PARTIAL = re.compile(r"^(?P<session>[0-9a-f-]{36})-\d+\.mp4\.part$")


def recording_key(organization_id: str, session_id: str) -> str:
    return f"recordings/{organization_id}/{session_id}.mp4"


class RecordingRecovery:
    def __init__(self, data_dir: Path, db: Database, blobs: BlobStore) -> None:
        self._directory = data_dir / IN_PROGRESS
        self._db = db
        self._blobs = blobs

    def recover(self, lost: Iterable[LostSession]) -> None:
        """Blocking (file copies): call it from a thread."""
        for session in lost:
            if session.was_running:
                self._recover_one(session.session_id, session.organization_id)

    def recover_orphans(self) -> int:
        """Partial files whose session ended and whose worker is gone. Blocking."""
        if not self._directory.is_dir():
            return 0
        recovered = 0
        for path in sorted(self._directory.glob("*.mp4.part")):
            match = _PARTIAL.match(path.name)
            if match is None:
                continue
            owner = self._orphan_owner(match["session"])
            if owner is not None and self._recover_one(match["session"], owner):
                recovered += 1
        return recovered

    def _orphan_owner(self, session_id: str) -> str | None:
        """The organization of the session if its partial recording is nobody's any more."""
        with self._db.session() as db:
            session = db.get(RealtimeSession, session_id)
            if session is None:
                return None
            if SessionStatus(session.status) not in TERMINAL:
                return None
            if session.worker_id is not None:
                worker = db.get(MediaWorker, session.worker_id)
                if worker is not None and worker.stopped_at is None:
                    return None  # still alive: it finishes its own recording
            return session.organization_id

    def _recover_one(self, session_id: str, organization_id: str) -> bool:
        partials = sorted(self._directory.glob(f"{session_id}-*.mp4.part"))
        if not partials:
            return False
        partial = partials[-1]
        for older in partials[:-1]:
            older.unlink(missing_ok=True)
        target = partial.with_name(partial.name.removesuffix(".part") + ".recovered")
        try:
            duration = salvage(partial, target)
        except Exception as exc:
            log.warning("session %s: nothing to recover from its recording (%s)", session_id, exc)
            target.unlink(missing_ok=True)
            return False
        key = recording_key(organization_id, session_id)
        try:
            self._blobs.put_file(key, target)
        finally:
            target.unlink(missing_ok=True)
        with self._db.session() as db:
            conversation = db.get(Conversation, session_id)
            if conversation is not None and conversation.recording_blob is None:
                set_recording(db, session_id, key)
        log.warning("session %s: recovered %.1f s of its recording", session_id, duration)
        return True
