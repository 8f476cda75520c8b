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
UPPER_LID = 0.095
LOWER_LID = 0.07
LID_SKIN = 0.17
"""Band of skin above the eye that stretches down to form the closed lid, in spans."""


def eye_boxes(geometry: FaceGeometry, margin_px: float) -> list[tuple[int, int, int, int]]:
    """Output-pixel boxes (x0, y0, x1, y1) that blinks can change, head motion included."""
    boxes = []
    for centre in (-0.5, 0.5):
        us = np.array([centre - EYE_HALF_WIDTH, centre + EYE_HALF_WIDTH] * 2)
        vs = np.array([-UPPER_LID - LID_SKIN] * 2 + [LOWER_LID + 0.02] * 2)
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


def close_lids(geometry: FaceGeometry, map_x: Array, map_y: Array, closure: float) -> Array:
    """Rewrites map_x/map_y in place for lid closure 0..1; returns a lash-line shade (0..1)."""
    u, v = geometry.to_face(map_x, map_y)
    shade = np.zeros_like(map_x)
    for centre in (-0.5, 0.5):
        a = (u - centre) / EYE_HALF_WIDTH
        profile = np.sqrt(np.clip(1.0 - a * a, 0.0, 1.0))
        top = -UPPER_LID * profile
        bottom = LOWER_LID * profile
        edge = top + closure * (bottom - top)
        band_top = top - LID_SKIN
        inside = (profile > 0.0) & (v > band_top) & (v < edge)
        stretch = (top - band_top) / np.maximum(edge - band_top, 1e-6)
        v = np.where(inside, band_top + (v - band_top) * stretch, v)
        # Lashes: a soft dark line along the lid edge, stronger as the lid closes.
        lash = np.exp(-(((v - top) / 0.012) ** 2)) * profile * inside
        shade = np.maximum(shade, lash * min(1.0, closure * 1.5) * 0.55)
    new_x, new_y = geometry.to_pixels(u, v)
    map_x[...] = new_x
    map_y[...] = new_y
    return shade
