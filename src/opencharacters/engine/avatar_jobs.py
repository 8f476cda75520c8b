"""Avatar image processing in the background: PROCESSING -> READY | FAILED."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import select

from opencharacters.background_cpu import BackgroundCpu
from opencharacters.blobs.store import BlobStore
from opencharacters.domain.timefmt import utcnow
from opencharacters.engine.background import BackgroundJobs, check_lease
from opencharacters.ingest.fetch import FetchError, fetch_https, policy_from_settings
from opencharacters.ingest.images import ImageRejected, process_reference_image
from opencharacters.settings import Settings
from opencharacters.store import job_leases
from opencharacters.store.db import Database
from opencharacters.store.resource_events import avatar_changed
from opencharacters.store.tables import Avatar

log = logging.getLogger(__name__)


def avatar_blob_prefix(org_id: str, avatar_id: str) -> str:
    return f"orgs/{org_id}/avatars/{avatar_id}"


class AvatarProcessor:
    def __init__(
        self, settings: Settings, db: Database, blobs: BlobStore, cpu_gate: BackgroundCpu
    ) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self._jobs = BackgroundJobs("avatar", cpu_gate, db, settings.job_lease_s)

    def submit(self, avatar_id: str, generation: int) -> None:
        self._jobs.start(f"{avatar_id}-{generation}", self._run(avatar_id, generation))

    def resume_unfinished(self) -> None:
        for avatar_id, generation in self._unfinished():
            self.submit(avatar_id, generation)

    async def rescan(self) -> None:
        """Claims the avatars no process is working on (their process died)."""
        for avatar_id, generation in await asyncio.to_thread(self._orphans):
            self.submit(avatar_id, generation)

    def _unfinished(self) -> list[tuple[str, int]]:
        with self.db.session() as db:
            rows = db.execute(
                select(Avatar.id, Avatar.image_generation).where(Avatar.status == "PROCESSING")
            ).all()
        return [(avatar_id, generation) for avatar_id, generation in rows]

    def _orphans(self) -> list[tuple[str, int]]:
        with self.db.session() as db:
            held = job_leases.live_keys(db, "avatar")
        return [(a, g) for a, g in self._unfinished() if f"{a}-{g}" not in held]

    async def stop(self) -> None:
        await self._jobs.stop()

    def _load(self, avatar_id: str, generation: int) -> Avatar | None:
        with self.db.session() as db:
            avatar = db.get(Avatar, avatar_id)
            if avatar is None or avatar.image_generation != generation:
                return None
            db.expunge(avatar)
            return avatar

    async def _source_bytes(self, avatar: Avatar) -> bytes:
        source = avatar.reference_source or ""
        if source.startswith("https://"):
            data, _ = await fetch_https(
                source,
                max_bytes=self.settings.fetch_max_bytes,
                timeout_s=self.settings.fetch_timeout_s,
                policy=policy_from_settings(self.settings),
                ca_bundle=self.settings.fetch_ca_bundle,
            )
            return data
        if avatar.reference_blob is None:
            raise FetchError("the reference image is missing")
        return await asyncio.to_thread(self.blobs.get_bytes, avatar.reference_blob)

    async def _run(self, avatar_id: str, generation: int) -> None:
        avatar = await asyncio.to_thread(self._load, avatar_id, generation)
        if avatar is None:
            return
        try:
            data = await self._source_bytes(avatar)
            async with self._jobs.cpu_gate:
                result = await self._jobs.cpu_gate.run(
                    process_reference_image,
                    data,
                    mode=avatar.image_processing,
                    output_size=(self.settings.output_width, self.settings.output_height),
                    max_pixels=self.settings.max_image_pixels,
                    preview_max_side=self.settings.preview_max_side,
                    face_points=avatar.face_points,
                )
        except (FetchError, ImageRejected) as exc:
            reason = str(exc)
            if isinstance(exc, FetchError):
                reason = f"Could not download the reference image: {reason}."
            preview = exc.preview_jpeg if isinstance(exc, ImageRejected) else None
            keys = None
            if preview is not None:
                # The picture that failed stays visible (cards, the face-points editor).
                prefix = f"{avatar_blob_prefix(avatar.organization_id, avatar.id)}/{generation}"
                keys = {"reference_preview": f"{prefix}/reference-preview.jpg"}
                await asyncio.to_thread(self.blobs.put_bytes, keys["reference_preview"], preview)
            await asyncio.to_thread(self._finish, avatar, generation, keys, None, reason)
            return
        except Exception:
            log.exception("processing avatar %s failed", avatar_id)
            await asyncio.to_thread(
                self._finish, avatar, generation, None, None, "Internal error while processing."
            )
            return
        prefix = f"{avatar_blob_prefix(avatar.organization_id, avatar.id)}/{generation}"
        keys = {
            "original": f"{prefix}/original.{result.original_format}",
            "processed": f"{prefix}/processed.jpg",
            "reference_preview": f"{prefix}/reference-preview.jpg",
            "processed_preview": f"{prefix}/processed-preview.jpg",
            "rig": f"{prefix}/rig.json",
        }

        def store() -> None:
            self.blobs.put_bytes(keys["original"], data)
            self.blobs.put_bytes(keys["processed"], result.processed_jpeg)
            self.blobs.put_bytes(keys["reference_preview"], result.reference_preview_jpeg)
            self.blobs.put_bytes(keys["processed_preview"], result.processed_preview_jpeg)
            self.blobs.put_bytes(keys["rig"], result.rig_json)

        await asyncio.to_thread(store)
        await asyncio.to_thread(self._finish, avatar, generation, keys, result.face, None)

    def _finish(
        self,
        avatar: Avatar,
        generation: int,
        keys: dict[str, str] | None,
        face: dict[str, object] | None,
        failure: str | None,
    ) -> None:
        with self.db.session() as db:
            row = db.get(Avatar, avatar.id, with_for_update=True)
            # Another process took this job over: the blobs (same keys) are its too; keep them.
            check_lease(db)
            if row is None or row.image_generation != generation:
                # Deleted, or a newer image arrived meanwhile: what this run stored is garbage.
                for key in (keys or {}).values():
                    self.blobs.delete(key)
                return
            row.updated_at = utcnow()
            if failure is not None:
                row.status = "FAILED"
                row.failure_reason = failure
                if keys and "reference_preview" in keys:
                    old = row.reference_preview_blob
                    row.reference_preview_blob = keys["reference_preview"]
                    if old and old != keys["reference_preview"]:
                        self.blobs.delete(old)
                avatar_changed(db, row)
                return
            assert keys is not None
            replaced = [
                row.reference_blob,
                row.reference_preview_blob,
                row.processed_blob,
                row.processed_preview_blob,
                row.rig_blob,
            ]
            row.reference_blob = keys["original"]
            row.reference_preview_blob = keys["reference_preview"]
            row.processed_blob = keys["processed"]
            row.processed_preview_blob = keys["processed_preview"]
            row.rig_blob = keys["rig"]
            row.face = dict(face or {})
            row.status = "READY"
            row.failure_reason = None
            avatar_changed(db, row)
        # Older images (and the staged source of a data: URI) go once the new ones are in.
        # Uploads are the caller's and expire on their own.
        for old_key in replaced:
            if old_key and old_key not in keys.values() and not old_key.startswith("uploads/"):
                self.blobs.delete(old_key)
