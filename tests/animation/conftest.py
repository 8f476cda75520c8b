from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from opencharacters.animation.rig import FaceRig, prepare

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    image = cv2.imread(str(ASSETS / "astronaut.jpg"))
    assert image is not None
    return image


@pytest.fixture(scope="session")
def rig(astronaut: np.ndarray) -> FaceRig:
    return prepare(astronaut, output_size=(544, 352))


@pytest.fixture(scope="session")
def cartoon_rig() -> FaceRig:
    from opencharacters.animation.sample_faces import CARTOON_FACE_POINTS, cartoon

    return prepare(cartoon(), CARTOON_FACE_POINTS, output_size=(544, 352))
