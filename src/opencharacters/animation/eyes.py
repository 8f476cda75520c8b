"""Blinks: the upper lid slides down over the eye instead of the eye being squashed.

Works on the remap coordinates (where each output pixel samples the reference image): inside
the eye opening, rows above the moving lid edge sample the lid skin above the eye, stretched
down; rows below it are untouched, so the lower part of the eye stays sharp until covered."""

from __future__ import annotations

from typing import Any

import numpy as np

from opencharacters.animation.rig import FaceGeometry

Array = np.ndarray[Any, Any]

EYE_HALF_WIDTH = 0.24
LID_SKIN = 1.6
"""Band of skin above the eye that stretches down to form the closed lid, in eye half-heights."""
LASHES = 0.5
"""Lash and crease band just above the open eye, skipped when drawing a lid."""


def eye_boxes(geometry: FaceGeometry, margin_px: float) -> list[tuple[int, int, int, int]]:
    """Output-pixel boxes (x0, y0, x1, y1) that blinks can change, head motion included."""
    boxes = []
    for centre in (-0.5, 0.5):
        us = np.array([centre - EYE_HALF_WIDTH, centre + EYE_HALF_WIDTH] * 2)
        h = geometry.eye_half_height
        vs = np.array([-h * (1.1 + LID_SKIN)] * 2 + [h + 0.02] * 2)
        x, y = geometry.to_pixels(us, vs)
        boxes.append(
            (
                int(x.min() - margin_px),
                int(y.min() - margin_px),
                int(np.ceil(x.max() + margin_px)),
                int(np.ceil(y.max() + margin_px)),
            )
        )
    return boxes


def close_lids(
    geometry: FaceGeometry, map_x: Array, map_y: Array, closure: float
) -> tuple[Array, Array]:
    """Rewrites map_x/map_y in place for lid closure 0..1; returns a lash-line shade (0..1)
    and how much of each pixel should come from the smoothed lid skin (0..1)."""
    u, v = geometry.to_face(map_x, map_y)
    shade = np.zeros_like(map_x)
    smooth = np.zeros_like(map_x)
    h = geometry.eye_half_height
    for centre in (-0.5, 0.5):
        a = (u - centre) / EYE_HALF_WIDTH
        profile = np.sqrt(np.clip(1.0 - a * a, 0.0, 1.0))
        top = -1.1 * h * profile
        bottom = 0.8 * h * profile
        edge = top + closure * (bottom - top)
        band_top = top - LID_SKIN * h
        inside = (profile > 0.0) & (v > band_top) & (v < edge)
        # The lid is made of skin from above the crease: the photo's own lashes and crease
        # shadow would streak if stretched, so they are skipped and a lash line drawn instead.
        skin_end = top - LASHES * h * profile
        stretch = (skin_end - band_top) / np.maximum(edge - band_top, 1e-6)
        position = (v - band_top) / np.maximum(edge - band_top, 1e-6)
        v = np.where(inside, band_top + (v - band_top) * stretch, v)
        lash = np.exp(-(((position - 1.0) / 0.12) ** 2)) * profile * inside
        shade = np.maximum(shade, lash * min(1.0, closure * 2.0) * 0.45)
        # Stretching a band of skin turns every small horizontal change in it into a vertical
        # streak; the more it stretches, the more the lid takes from a smoothed copy. Faded
        # in from the band's top so there is no seam where the stretch starts.
        stretched = np.clip((1.0 / np.maximum(stretch, 1e-6) - 1.0) / 1.5, 0.0, 1.0)
        smooth = np.maximum(smooth, inside * stretched * np.clip(position * 3.0, 0.0, 1.0))
    new_x, new_y = geometry.to_pixels(u, v)
    map_x[...] = new_x
    map_y[...] = new_y
    return shade, smooth
