"""Where the face is: five key points (eyes, mouth corners, mouth centre) from an image.

Detection runs once per avatar. The OpenCV 4 Haar cascades ship inside opencv-python-headless,
work offline and keep the server on numpy 2; callers can also supply the points themselves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from opencharacters.animation import face_model

Image = npt.NDArray[Any]
"""A BGR uint8 picture (cv2's stubs type arrays loosely, so this stays loose too)."""

FACE_POINT_NAMES = ("left_eye", "right_eye", "mouth_left", "mouth_right")
"""Image coordinates in pixels; "left" is the left of the picture, not of the person."""


class NoFaceError(ValueError):
    """The image has no detectable face and no face points were supplied."""


@dataclass(frozen=True, slots=True)
class FacePoints:
    left_eye: tuple[float, float]
    right_eye: tuple[float, float]
    mouth_left: tuple[float, float]
    mouth_right: tuple[float, float]
    source: str
    """"supplied", "face_mesh" or "haar": how far to trust them."""
    lip_upper_inner: tuple[float, float] | None = None
    lip_lower_inner: tuple[float, float] | None = None
    """Middle of the lips' inner edges (face mesh only): where the mouth really parts."""
    eye_opening: float | None = None
    """Upper to lower lid distance, pixels, both eyes averaged (face mesh only)."""

    @classmethod
    def from_mapping(cls, points: Mapping[str, Sequence[float]]) -> FacePoints:
        missing = [name for name in FACE_POINT_NAMES if name not in points]
        if missing:
            raise ValueError(f"face_points needs {', '.join(FACE_POINT_NAMES)}; missing {missing}")
        left_eye, right_eye = _point(points["left_eye"]), _point(points["right_eye"])
        if left_eye[0] >= right_eye[0]:
            raise ValueError("face_points: left_eye must be left of right_eye in the image")
        return cls(
            left_eye=left_eye,
            right_eye=right_eye,
            mouth_left=_point(points["mouth_left"]),
            mouth_right=_point(points["mouth_right"]),
            source="supplied",
        )


def _point(value: Sequence[float]) -> tuple[float, float]:
    if len(value) != 2:
        raise ValueError(f"a face point is [x, y], got {list(value)!r}")
    return float(value[0]), float(value[1])


def _cascade(name: str) -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + name  # type: ignore[attr-defined]
    classifier = cv2.CascadeClassifier(path)
    if classifier.empty():
        raise RuntimeError(f"OpenCV Haar cascade {name} is missing (needs opencv < 5)")
    return classifier


def detect_face_points(image: Image) -> FacePoints:
    """Largest frontal face: face-mesh landmarks when the model is installed, else Haar boxes."""
    gray = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
    box = _haar_face(gray)
    if face_model.available():
        mesh = _mesh_points(image, box)
        if mesh is not None:
            return mesh
    return _haar_points(gray, box)


def _haar_face(gray: Image) -> tuple[float, float, float, float]:
    min_side = max(40, min(gray.shape) // 8)
    faces = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    if len(faces) == 0:
        raise NoFaceError(
            "no face found in the image; supply face_points "
            f"({', '.join(FACE_POINT_NAMES)} as [x, y] pixels)"
        )
    x, y, w, h = (float(v) for v in max(faces, key=lambda f: int(f[2]) * int(f[3])))
    return x, y, w, h


# Face-mesh indices (MediaPipe topology): eye corners, mouth corners, inner lip middles.
_EYE_A, _EYE_B, _EYE_C, _EYE_D = 33, 133, 362, 263
_MOUTH_A, _MOUTH_B, _LIP_UPPER, _LIP_LOWER = 61, 291, 13, 14
_LIDS = ((159, 145), (386, 374))


def _mesh_points(image: Image, box: tuple[float, float, float, float]) -> FacePoints | None:
    """Two passes: a crop from the Haar box, then one re-centred on the first pass's points."""
    mesh = face_model.shared_mesh()
    x, y, w, h = box
    centre, side = np.array([x + w / 2, y + 0.55 * h]), 1.6 * w
    points = None
    for _ in range(2):
        scale = mesh.input_size / side
        half = mesh.input_size / 2
        warp = np.array(
            [[scale, 0.0, half - scale * centre[0]], [0.0, scale, half - scale * centre[1]]]
        )
        size = (mesh.input_size, mesh.input_size)
        crop = cv2.warpAffine(image, warp, size, borderMode=cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
        local, probability = mesh.landmarks(rgb)
        if probability < 0.5:
            return None
        points = (local - warp[:, 2]) / scale
        low, high = points.min(axis=0), points.max(axis=0)
        centre, side = (low + high) / 2, 1.5 * float(max(high - low))
    assert points is not None

    def at(*indices: int) -> tuple[float, float]:
        mean = points[list(indices)].mean(axis=0)
        return float(mean[0]), float(mean[1])

    eye_1, eye_2 = at(_EYE_A, _EYE_B), at(_EYE_C, _EYE_D)
    mouth_1, mouth_2 = at(_MOUTH_A), at(_MOUTH_B)
    left_eye, right_eye = sorted((eye_1, eye_2))
    mouth_left, mouth_right = sorted((mouth_1, mouth_2))
    return FacePoints(
        left_eye=left_eye,
        right_eye=right_eye,
        mouth_left=mouth_left,
        mouth_right=mouth_right,
        source="face_mesh",
        lip_upper_inner=at(_LIP_UPPER),
        lip_lower_inner=at(_LIP_LOWER),
        eye_opening=float(
            np.mean([np.hypot(*(points[upper] - points[lower])) for upper, lower in _LIDS])
        ),
    )


def _haar_points(gray: Image, box: tuple[float, float, float, float]) -> FacePoints:
    x, y, w, h = box
    # Average frontal-face proportions inside a Haar box (measured on the astronaut and typical
    # portraits): eyes at 39 % height, 31 % / 69 % width.
    left_eye = (x + 0.31 * w, y + 0.39 * h)
    right_eye = (x + 0.69 * w, y + 0.39 * h)
    eyes = _detect_eyes(gray[int(y) : int(y + 0.6 * h), int(x) : int(x + w)], w)
    if eyes is not None:
        left_eye = (x + eyes[0][0], y + eyes[0][1])
        right_eye = (x + eyes[1][0], y + eyes[1][1])
    eye_mid_x = (left_eye[0] + right_eye[0]) / 2
    eye_y = (left_eye[1] + right_eye[1]) / 2
    span = right_eye[0] - left_eye[0]
    mouth_y = eye_y + 1.08 * span
    mouth_half = 0.42 * span
    return FacePoints(
        left_eye=left_eye,
        right_eye=right_eye,
        mouth_left=(eye_mid_x - mouth_half, mouth_y),
        mouth_right=(eye_mid_x + mouth_half, mouth_y),
        source="haar",
    )


def _detect_eyes(
    upper_face: Image, face_width: float
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Two eye boxes, one per half of the face, of a plausible size; None when unsure."""
    side = max(8, int(face_width * 0.12))
    boxes = _cascade("haarcascade_eye.xml").detectMultiScale(
        upper_face, scaleFactor=1.05, minNeighbors=4, minSize=(side, side)
    )
    half = face_width / 2
    left: list[Any] = [b for b in boxes if b[0] + b[2] / 2 < half and b[2] < face_width * 0.4]
    right: list[Any] = [b for b in boxes if b[0] + b[2] / 2 >= half and b[2] < face_width * 0.4]
    if not left or not right:
        return None

    def centre(box: Any) -> tuple[float, float]:
        return float(box[0] + box[2] / 2), float(box[1] + box[3] / 2)

    best_left = centre(max(left, key=lambda b: int(b[2])))
    best_right = centre(max(right, key=lambda b: int(b[2])))
    # Reject pairs that are not roughly level or implausibly spaced (eyebrows, nostrils).
    spacing = best_right[0] - best_left[0]
    if abs(best_right[1] - best_left[1]) > 0.12 * face_width:
        return None
    if not 0.28 * face_width < spacing < 0.55 * face_width:
        return None
    return best_left, best_right
