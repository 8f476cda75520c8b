from __future__ import annotations

import time

import numpy as np
import pytest

from opencharacters.animation import face_model
from opencharacters.animation.landmarks import NoFaceError
from opencharacters.animation.rig import FaceRig, prepare

pytestmark = pytest.mark.integration

ASTRONAUT_POINTS = {
    "left_eye": [203, 101],
    "right_eye": [246, 103],
    "mouth_left": [206, 147],
    "mouth_right": [243, 147],
}


@pytest.mark.parametrize("mesh", [False, True], ids=["haar", "face_mesh"])
def test_prepares_the_bundled_face(
    astronaut: np.ndarray, mesh: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if mesh and not face_model.available():
        pytest.skip("face_landmarker.task not installed (opencharacters models prepare)")
    if not mesh:
        monkeypatch.setattr(face_model, "available", lambda: False)
    started = time.perf_counter()
    rig = prepare(astronaut)
    assert time.perf_counter() - started < 2.0
    assert rig.size == (1088, 704)
    assert rig.landmark_source == ("face_mesh" if mesh else "haar")
    if mesh:
        # The astronaut smiles with her upper teeth showing.
        assert rig.appearance.teeth_visible and rig.appearance.mouth_open
    g = rig.geometry
    # Face centred-ish and framed head-and-shoulders.
    assert 0.1 * 704 < g.span < 0.25 * 704
    assert abs(g.origin[0] - 1088 / 2) < 0.05 * 1088  # centred: the crop zooms to make room
    assert 0.8 < g.mouth_v < 1.4


def test_rig_round_trips_through_json(rig: FaceRig) -> None:
    assert FaceRig.from_json(rig.to_json()) == rig
    assert FaceRig.from_json(rig.to_bytes()) == rig


def test_image_without_a_face_fails_clearly() -> None:
    blank = np.full((300, 400, 3), 128, np.uint8)
    with pytest.raises(NoFaceError, match="face_points"):
        prepare(blank)


def test_supplied_face_points_make_any_image_work() -> None:
    blank = np.full((300, 400, 3), 128, np.uint8)
    points = {"left_eye": [170, 120], "right_eye": [230, 120]}
    points |= {"mouth_left": [178, 185], "mouth_right": [222, 185]}
    rig = prepare(blank, face_points=points)
    assert rig.landmark_source == "supplied"


def test_bad_face_points_are_rejected(astronaut: np.ndarray) -> None:
    with pytest.raises(ValueError, match="missing"):
        prepare(astronaut, face_points={"left_eye": [1, 2]})
    swapped = dict(ASTRONAUT_POINTS, left_eye=[250, 101])
    with pytest.raises(ValueError, match="left of"):
        prepare(astronaut, face_points=swapped)


def test_encoded_bytes_are_accepted(astronaut: np.ndarray) -> None:
    import cv2

    ok, data = cv2.imencode(".png", astronaut)
    assert ok
    assert prepare(data.tobytes(), face_points=ASTRONAUT_POINTS).landmark_source == "supplied"
