"""Runs avatar-video tasks in the background:
PENDING -> (THROTTLED while another job holds the CPU) -> RUNNING -> SUCCEEDED | FAILED."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select

from opencharacters.domain.timefmt import utcnow
from opencharacters.domain.voice_designs import design_from_json
from opencharacters.engine.avatar_videos import SpeechRejected, render_video
from opencharacters.engine.background import JobRunner, LeaseLost, check_lease
from opencharacters.ingest.fetch import FetchError, fetch_https, policy_from_settings
from opencharacters.store.tables import Avatar, Task
from opencharacters.store.task_events import task_changed

log = logging.getLogger(__name__)
ACTIVE_TASK_STATES = ("PENDING", "THROTTLED", "RUNNING")


def task_blob_prefix(org_id: str, task_id: str) -> str:
    return f"orgs/{org_id}/tasks/{task_id}"


class TaskRunner(JobRunner):
    kind = "task"

    def _unfinished(self) -> list[str]:
        with self.db.session() as db:
            return list(db.scalars(select(Task.id).where(Task.status.in_(ACTIVE_TASK_STATES))))

    def _update(self, task_id: str, *, video_seconds: float | None = None, **fields: Any) -> bool:
        """Applies fields unless the task was cancelled or deleted meanwhile; a finished task
        is metered and reported to webhooks in the same transaction."""
        with self.db.session() as db:
            task = db.get(Task, task_id, with_for_update=True)
            check_lease(db)
            if task is None or task.status not in ACTIVE_TASK_STATES:
                return False
            for name, value in fields.items():
                setattr(task, name, value)
            task.updated_at = utcnow()
            task_changed(db, task, video_seconds)
            return True

    def _inputs(self, task_id: str) -> tuple[Task, bytes] | None:
        with self.db.session() as db:
            task = db.get(Task, task_id)
            if task is None or task.status not in ACTIVE_TASK_STATES:
                return None
            avatar = db.get(Avatar, task.spec["avatarId"])
            if avatar is None or avatar.rig_blob is None:
                raise SpeechRejected("The avatar was deleted or has no face rig.")
            db.expunge(task)
            return task, self.blobs.get_bytes(avatar.rig_blob)

    async def _run(self, task_id: str) -> None:
        try:
            if self._jobs.cpu_gate.locked():
                # Another job holds the one CPU slot: say so while waiting for it.
                await asyncio.to_thread(self._throttle, task_id)
            async with self._jobs.cpu_gate:
                await self._render(task_id)
        except (asyncio.CancelledError, LeaseLost):
            raise
        except (SpeechRejected, FetchError) as exc:
            reason = str(exc)
            if isinstance(exc, FetchError):
                reason = f"Could not download the audio: {reason}."
            await asyncio.to_thread(
                self._update, task_id, status="FAILED", failure=reason, failure_code="INPUT_INVALID"
            )
        except Exception:
            log.exception("task %s failed", task_id)
            await asyncio.to_thread(
                self._update,
                task_id,
                status="FAILED",
                failure="Internal error while rendering; the failure was logged.",
                failure_code="INTERNAL",
            )

    def _throttle(self, task_id: str) -> None:
        with self.db.session() as db:
            task = db.get(Task, task_id, with_for_update=True)
            check_lease(db)
            if task is not None and task.status == "PENDING":
                task.status = "THROTTLED"
                task.updated_at = utcnow()

    async def _render(self, task_id: str) -> None:
        loaded = await asyncio.to_thread(self._inputs, task_id)
        if loaded is None:
            return
        task, rig_json = loaded
        if not await asyncio.to_thread(self._update, task_id, status="RUNNING", progress=0.1):
            return
        speech: dict[str, Any] = task.spec["speech"]
        audio: bytes | None = None
        if speech["type"] == "audio":
            if "url" in speech:
                audio, _ = await fetch_https(
                    speech["url"],
                    max_bytes=self.settings.fetch_max_bytes,
                    timeout_s=self.settings.fetch_timeout_s,
                    policy=policy_from_settings(self.settings),
                    ca_bundle=self.settings.fetch_ca_bundle,
                )
            else:
                audio = await asyncio.to_thread(self.blobs.get_bytes, speech["blob"])
        key = f"{task_blob_prefix(task.organization_id, task.id)}/video.mp4"
        with tempfile.TemporaryDirectory() as scratch:
            output = Path(scratch) / "video.mp4"
            seconds = await self._jobs.cpu_gate.run(
                render_video,
                rig_json,
                output,
                audio=audio,
                text=speech.get("text"),
                voice_id=(
                    design_from_json(speech["voiceDesign"])
                    if "voiceDesign" in speech
                    else speech.get("voiceId")
                ),
                engines=self.settings.engines,
            )
            await asyncio.to_thread(self.blobs.put_file, key, output)
        if not await asyncio.to_thread(
            self._update,
            task_id,
            status="SUCCEEDED",
            progress=1.0,
            output_blob=key,
            video_seconds=seconds,
        ):
            self.blobs.delete(key)  # cancelled or deleted while rendering
