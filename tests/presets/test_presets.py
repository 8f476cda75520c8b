"""The preset characters: the committed portraits are the script's output, each one processes
with its stored face points and talks, and the server installs them once per version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from opencharacters.animation.params import FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.blobs.store import FilesystemBlobStore
from opencharacters.domain import preset_characters as catalog
from opencharacters.domain.preset_characters import PRESET_CHARACTERS, PRESET_ORGANIZATION_ID
from opencharacters.domain.voices import PRESETS_BY_ID
from opencharacters.ingest.images import process_reference_image
from opencharacters.presets import install
from opencharacters.presets.install import PresetAvatars, preset_face_points, preset_image
from opencharacters.presets.portraits import PORTRAITS
from opencharacters.settings import Settings
from opencharacters.store.db import Database
from opencharacters.store.tables import Avatar

pytestmark = pytest.mark.integration

IDS = [preset.id for preset in PRESET_CHARACTERS]


def test_the_catalog_covers_the_sdks_ids_with_whole_characters() -> None:
    assert IDS == [
        "game-character",
        "music-superstar",
        "game-character-man",
        "cat-character",
        "influencer",
        "tennis-coach",
        "human-resource",
        "fashion-designer",
        "cooking-teacher",
    ]
    assert list(PORTRAITS) == IDS
    assert len({p.name for p in PRESET_CHARACTERS}) == 9
    assert len({p.avatar_id for p in PRESET_CHARACTERS}) == 9
    for preset in PRESET_CHARACTERS:
        assert preset.voice in PRESETS_BY_ID
        assert preset.name in preset.personality and 1 <= len(preset.start_script) <= 2000
        assert len(preset.personality) <= 10_000 and len(preset.name) <= 50


def test_a_committed_portrait_is_what_the_script_draws() -> None:
    """The PNGs are generated, not hand-edited: redrawing one reproduces it (within what a
    different OpenCV build's anti-aliasing could change)."""
    drawn = PORTRAITS["cat-character"]()
    committed = cv2.imdecode(np.frombuffer(preset_image("cat-character"), np.uint8), 1)
    assert drawn.shape == committed.shape == (704, 1088, 3)
    difference = np.abs(drawn.astype(np.int16) - committed.astype(np.int16))
    assert difference.mean() < 0.5 and (difference > 24).mean() < 0.002


@pytest.mark.parametrize("preset_id", IDS)
def test_each_preset_processes_with_its_points_and_opens_its_mouth(preset_id: str) -> None:
    result = process_reference_image(
        preset_image(preset_id),
        mode="optimize",
        output_size=(1088, 704),
        max_pixels=40_000_000,
        preview_max_side=512,
        face_points=preset_face_points(preset_id),
    )
    assert result.face["landmarkSource"] == "supplied"
    rig = FaceRig.from_json(result.rig_json)
    renderer = Renderer(rig)
    rest = renderer.render(FaceParams())
    talking = renderer.render(FaceParams(jaw=0.7, spread=0.2))
    blinking = renderer.render(FaceParams(blink=1.0))
    x0, y0, x1, y1 = renderer.mouth_box()
    moved = np.abs(talking.astype(np.int16) - rest.astype(np.int16))
    assert moved[y0:y1, x0:x1].mean() > 4, "the mouth opens"
    # Nothing tears far from the face: the frame's corners do not move.
    for corner in (moved[:60, :60], moved[:60, -60:], moved[-60:, :60], moved[-60:, -60:]):
        assert corner.max() == 0
    assert np.abs(blinking.astype(np.int16) - rest.astype(np.int16)).mean() > 0.05


def test_presets_are_installed_once_per_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=tmp_path)
    database = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    database.migrate()
    blobs = FilesystemBlobStore(tmp_path / "blobs")
    presets = PresetAvatars(settings, database, blobs)
    cat = catalog.PRESET_CHARACTERS_BY_ID["cat-character"]
    assert presets.ensure(cat.id) == cat.avatar_id
    with database.session() as db:
        row = db.get(Avatar, cat.avatar_id)
        assert row is not None and row.status == "READY" and row.rig_blob
        assert row.organization_id == PRESET_ORGANIZATION_ID and row.name == "Mochi"
        first_rig = row.rig_blob
    assert blobs.exists(first_rig)

    # A new server process on the same store: nothing is processed again.
    again = PresetAvatars(settings, database, blobs)

    def no_processing(*_: object, **__: object) -> None:
        raise AssertionError("the preset was processed again")

    monkeypatch.setattr("opencharacters.ingest.images.process_reference_image", no_processing)
    again.ensure(cat.id)
    monkeypatch.undo()

    # A changed preset (here its opening line) is picked up; the old version's blobs go.
    changed = dataclasses.replace(cat, start_script="Mrrow, a brand new hello!")
    monkeypatch.setitem(catalog.PRESET_CHARACTERS_BY_ID, cat.id, changed)
    monkeypatch.setattr(install, "PRESET_CHARACTERS_BY_ID", catalog.PRESET_CHARACTERS_BY_ID)
    PresetAvatars(settings, database, blobs).ensure(cat.id)
    with database.session() as db:
        row = db.get(Avatar, cat.avatar_id)
        assert row is not None and row.start_script == "Mrrow, a brand new hello!"
        assert row.rig_blob != first_rig and blobs.exists(row.rig_blob or "")
        assert row.image_generation == 2
    assert not blobs.exists(first_rig)
    database.dispose()
