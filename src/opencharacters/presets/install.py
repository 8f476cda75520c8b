"""Makes the preset characters READY avatars, once per server's database and blob store.

Each preset is one avatar row owned by the presets organization (no API key belongs to it), so
sessions, avatar videos, conversations and the media workers use it like any avatar. The row is
made on first use: the committed portrait goes through the same processing as an uploaded image
(with its stored face points, so no detector is involved), about 0.1 to 0.3 s per preset. The
blobs are keyed by a digest of everything that defines the preset, so a changed portrait or
personality is picked up on the next use and a restart with the same blob store does nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy.exc import IntegrityError

from opencharacters.blobs.store import BlobStore
from opencharacters.domain.preset_characters import (
    PRESET_CHARACTERS,
    PRESET_CHARACTERS_BY_ID,
    PRESET_ORGANIZATION_ID,
    PRESET_ORGANIZATION_NAME,
    PresetCharacter,
)
from opencharacters.domain.timefmt import utcnow
from opencharacters.settings import Settings
from opencharacters.store.db import Database
from opencharacters.store.tables import Avatar, Organization

log = logging.getLogger(__name__)


def preset_image(preset_id: str) -> bytes:
    """The committed portrait (PNG) drawn by `opencharacters.presets.portraits`."""
    return (
        resources.files("opencharacters.presets").joinpath(f"images/{preset_id}.png").read_bytes()
    )


@cache
def _faces() -> dict[str, dict[str, list[float]]]:
    text = resources.files("opencharacters.presets").joinpath("images/faces.json").read_text()
    faces: dict[str, dict[str, list[float]]] = json.loads(text)
    return faces


def preset_face_points(preset_id: str) -> dict[str, list[float]]:
    return _faces()[preset_id]


def preset_digest(preset: PresetCharacter) -> str:
    """Changes whenever anything that defines the preset's avatar changes."""
    h = hashlib.sha256(preset_image(preset.id))
    defining = [
        preset.name,
        preset.voice,
        preset.personality,
        preset.start_script,
        preset_face_points(preset.id),
    ]
    h.update(json.dumps(defining, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _source_marker(preset: PresetCharacter, digest: str) -> str:
    return f"preset:{preset.id}:{digest}"


class PresetAvatars:
    """The nine preset avatars of one server: made READY when first needed."""

    def __init__(self, settings: Settings, db: Database, blobs: BlobStore) -> None:
        self.settings = settings
        self.db = db
        self.blobs = blobs
        self._lock = threading.Lock()
        self._fresh: set[str] = set()

    def ensure(self, preset_id: str) -> str:
        """Makes the preset's avatar row READY and current; returns its avatar id. Blocking
        (image processing on first use): call it from a worker thread."""
        preset = PRESET_CHARACTERS_BY_ID[preset_id]
        if preset_id in self._fresh:
            return preset.avatar_id
        with self._lock:  # one processing per preset per process
            if preset_id not in self._fresh:
                self._install(preset)
                self._fresh.add(preset_id)
        return preset.avatar_id

    def ensure_all(self) -> list[str]:
        return [self.ensure(preset.id) for preset in PRESET_CHARACTERS]

    def _install(self, preset: PresetCharacter) -> None:
        digest = preset_digest(preset)
        marker = _source_marker(preset, digest)
        with self.db.session() as db:
            row = db.get(Avatar, preset.avatar_id)
            if row is not None and row.reference_source == marker and row.status == "READY":
                return
        keys, face = self._blobs_for(preset, digest)
        try:
            with self.db.session() as db:
                replaced = self._write_row(db, preset, marker, keys, face)
        except IntegrityError:
            # Another server process inserted the same rows at the same moment: theirs stand.
            log.info("preset %s was installed concurrently by another process", preset.id)
            return
        if replaced is not None:
            # The previous version's images and rig; calls already running hold their rig.
            self.blobs.delete_prefix(replaced)

    def _blobs_for(
        self, preset: PresetCharacter, digest: str
    ) -> tuple[dict[str, str], dict[str, Any]]:
        prefix = f"presets/{preset.id}/{digest}"
        keys = {
            "original": f"{prefix}/original.png",
            "processed": f"{prefix}/processed.jpg",
            "reference_preview": f"{prefix}/reference-preview.jpg",
            "processed_preview": f"{prefix}/processed-preview.jpg",
            "rig": f"{prefix}/rig.json",
            "face": f"{prefix}/face.json",
        }
        if all(self.blobs.exists(key) for key in keys.values()):
            return keys, json.loads(self.blobs.get_bytes(keys["face"]))
        from opencharacters.ingest.images import process_reference_image

        image = preset_image(preset.id)
        result = process_reference_image(
            image,
            mode="optimize",
            output_size=(self.settings.output_width, self.settings.output_height),
            max_pixels=self.settings.max_image_pixels,
            preview_max_side=self.settings.preview_max_side,
            face_points=preset_face_points(preset.id),
        )
        self.blobs.put_bytes(keys["original"], image)
        self.blobs.put_bytes(keys["processed"], result.processed_jpeg)
        self.blobs.put_bytes(keys["reference_preview"], result.reference_preview_jpeg)
        self.blobs.put_bytes(keys["processed_preview"], result.processed_preview_jpeg)
        self.blobs.put_bytes(keys["rig"], result.rig_json)
        self.blobs.put_bytes(keys["face"], json.dumps(result.face).encode())  # written last
        log.info("preset %s (%s) prepared", preset.id, preset.name)
        return keys, dict(result.face)

    @staticmethod
    def _write_row(
        db: Any, preset: PresetCharacter, marker: str, keys: dict[str, str], face: dict[str, Any]
    ) -> str | None:
        """Creates or refreshes the row; returns the blob prefix of a version it replaced."""
        now = utcnow()
        replaced: str | None = None
        if db.get(Organization, PRESET_ORGANIZATION_ID) is None:
            db.add(
                Organization(
                    id=PRESET_ORGANIZATION_ID, name=PRESET_ORGANIZATION_NAME, created_at=now
                )
            )
            db.flush()
        row = db.get(Avatar, preset.avatar_id, with_for_update=True)
        if row is None:
            row = Avatar(
                id=preset.avatar_id,
                organization_id=PRESET_ORGANIZATION_ID,
                image_generation=1,
                created_at=now,
            )
            db.add(row)
        elif row.reference_source == marker and row.status == "READY":
            return None
        else:
            row.image_generation += 1
            old = (row.rig_blob or "").rsplit("/", 1)[0]
            if old.startswith(f"presets/{preset.id}/") and old != keys["rig"].rsplit("/", 1)[0]:
                replaced = old
        row.name = preset.name
        row.personality = preset.personality
        row.start_script = preset.start_script
        row.voice = {"type": "runway-live-preset", "presetId": preset.voice}
        row.image_processing = "optimize"
        row.status = "READY"
        row.failure_reason = None
        row.reference_source = marker
        row.reference_blob = keys["original"]
        row.reference_preview_blob = keys["reference_preview"]
        row.processed_blob = keys["processed"]
        row.processed_preview_blob = keys["processed_preview"]
        row.rig_blob = keys["rig"]
        row.face = face
        row.face_points = preset_face_points(preset.id)
        row.updated_at = now
        db.flush()
        return replaced
