"""Test faces made without downloads: a painted version of a photo and a drawn cartoon face.

Used by the tests, the benchmark and the docs' contact sheets. The cartoon has a closed mouth
and no photographic texture; its face points are known, so it also tests supplied points."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

CARTOON_FACE_POINTS: dict[str, list[float]] = {
    "left_eye": [212.0, 236.0],
    "right_eye": [300.0, 236.0],
    "mouth_left": [222.0, 340.0],
    "mouth_right": [290.0, 340.0],
}


def painted(photo: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Flat colour regions with dark outlines, like a poster painting of the photo."""
    smooth = photo
    for _ in range(3):
        smooth = cv2.bilateralFilter(smooth, 9, 60, 7)
    levels = 7
    poster = (np.floor(smooth.astype(np.float32) / 256 * levels) + 0.5) * (256 / levels)
    gray = cv2.medianBlur(cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY), 5)
    edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
    outlined = poster * (0.55 + 0.45 * (edges[..., None] / 255.0))
    return np.asarray(np.clip(outlined, 0, 255).astype(np.uint8))


def cartoon(size: int = 512) -> np.ndarray[Any, Any]:
    """A drawn face, closed mouth, soft shading; face points in CARTOON_FACE_POINTS (at 512)."""
    image = np.zeros((size, size, 3), np.uint8)
    ys = np.linspace(0, 1, size)[:, None, None]
    image[:] = (np.array([200, 170, 120]) * (1 - ys) + np.array([150, 110, 70]) * ys).astype(
        np.uint8
    )
    skin = (150, 190, 235)
    cv2.ellipse(image, (256, 470), (190, 90), 0, 180, 360, (90, 60, 160), -1, cv2.LINE_AA)
    cv2.rectangle(image, (226, 370), (286, 470), (135, 175, 220), -1)
    cv2.ellipse(image, (256, 270), (120, 150), 0, 0, 360, skin, -1, cv2.LINE_AA)
    cv2.ellipse(image, (256, 170), (128, 80), 0, 180, 360, (40, 60, 110), -1, cv2.LINE_AA)
    cv2.ellipse(image, (150, 280), (16, 30), 0, 0, 360, (140, 180, 225), -1, cv2.LINE_AA)
    cv2.ellipse(image, (362, 280), (16, 30), 0, 0, 360, (140, 180, 225), -1, cv2.LINE_AA)
    for x in (212, 300):
        cv2.ellipse(image, (x, 236), (24, 13), 0, 0, 360, (250, 250, 250), -1, cv2.LINE_AA)
        cv2.circle(image, (x, 236), 10, (70, 100, 60), -1, cv2.LINE_AA)
        cv2.circle(image, (x, 236), 5, (20, 20, 20), -1, cv2.LINE_AA)
        cv2.circle(image, (x + 3, 232), 2, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.ellipse(image, (x, 236), (25, 14), 0, 180, 360, (40, 40, 60), 2, cv2.LINE_AA)
        cv2.ellipse(image, (x, 205), (30, 8), 0, 180, 360, (40, 60, 100), 5, cv2.LINE_AA)
    cv2.ellipse(image, (256, 300), (12, 8), 0, 0, 180, (110, 150, 200), 2, cv2.LINE_AA)
    cv2.ellipse(image, (256, 342), (36, 9), 0, 180, 360, (110, 110, 200), -1, cv2.LINE_AA)
    cv2.ellipse(image, (256, 341), (34, 12), 0, 0, 180, (120, 125, 215), -1, cv2.LINE_AA)
    cv2.line(image, (222, 340), (290, 340), (60, 60, 120), 2, cv2.LINE_AA)
    shade = cv2.GaussianBlur(image, (0, 0), 1.2)
    return np.asarray(shade)
