"""The inside of an open mouth: dark cavity, tongue, upper teeth fixed to the skull and lower
teeth moving with the jaw, coloured from the reference image's own lips and light."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from opencharacters.animation.rig import Appearance

Array = np.ndarray[Any, Any]
_SUBPIXEL = 4  # cv2.fillPoly shift: polygons are drawn at 1/16 px


@dataclass(frozen=True, slots=True)
class MouthShape:
    """Curves across the mouth, left to right, in output pixels (N by 2 each)."""

    upper_edge: Array  # inner edge of the upper lip
    lower_edge: Array  # inner edge of the lower lip
    upper_teeth_edge: Array  # biting edge of the upper teeth (moves with the head only)
    lower_teeth_edge: Array  # biting edge of the lower teeth (moves with the jaw)


def _poly(points: Array, offset: tuple[int, int]) -> Array:
    shifted = (points - np.array(offset)) * (1 << _SUBPIXEL)
    return np.asarray(shifted.round().astype(np.int32))


def _mask(shape: tuple[int, int], polygon: Array, offset: tuple[int, int]) -> Array:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [_poly(polygon, offset)], 255, cv2.LINE_AA, _SUBPIXEL)
    return mask.astype(np.float32) / 255.0


def draw_interior(frame: Array, mouth: MouthShape, look: Appearance, strength: float = 1.0) -> None:
    """Paints the open part of the mouth into `frame` (BGR uint8) in place."""
    opening = np.concatenate([mouth.upper_edge, mouth.lower_edge[::-1]])
    gap = mouth.lower_edge[:, 1] - mouth.upper_edge[:, 1]
    if float(gap.max()) < 0.6:
        return
    x0, y0 = np.floor(opening.min(axis=0)).astype(int) - 2
    x1, y1 = np.ceil(opening.max(axis=0)).astype(int) + 2
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    shape = (y1 - y0, x1 - x0)
    offset = (x0, y0)
    light = look.light / 0.7
    lips = np.array(look.lip_bgr, np.float32)

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    centre_x = float(opening[:, 0].mean())
    half_w = max(1.0, float(np.ptp(opening[:, 0])) / 2)
    across = np.clip(np.abs(xs - centre_x) / half_w, 0.0, 1.0)
    # Cavity: lip colour, very dark, darker towards the corners and the back of the throat.
    cavity = lips * 0.3 * light * (1.0 - 0.55 * across[..., None] ** 2)
    interior = np.broadcast_to(cavity, (*shape, 3)).astype(np.float32).copy()

    lower_mid = mouth.lower_edge[len(mouth.lower_edge) // 2]
    tongue_r = (0.55 * half_w, max(2.0, 0.45 * float(gap.max())))
    tongue = ((xs - lower_mid[0]) / tongue_r[0]) ** 2 + ((ys - lower_mid[1]) / tongue_r[1]) ** 2
    tongue_alpha = np.clip(1.2 - tongue, 0.0, 1.0)[..., None]
    interior = interior * (1 - tongue_alpha) + (lips * 0.7 * light) * tongue_alpha

    ivory = np.array([196.0, 222.0, 236.0], np.float32) * min(1.2, light)
    for biting_edge, lip_edge, lit in (
        (mouth.upper_teeth_edge, mouth.upper_edge, 1.0),
        (mouth.lower_teeth_edge, mouth.lower_edge, 0.7),  # lower teeth sit in shadow
    ):
        beyond = lip_edge + (lip_edge - biting_edge) * 2.0  # hidden root side, under the lip
        teeth = _mask(shape, np.concatenate([biting_edge, beyond[::-1]]), offset)[..., None]
        # Teeth curve away at the sides and sit in the lip's shadow.
        shade = (1.0 - 0.6 * across**2)[..., None]
        gaps = _tooth_gaps(xs, centre_x, half_w)[..., None]
        interior = interior * (1 - teeth) + ivory * lit * shade * gaps * teeth

    # Shadow under the upper lip over everything inside.
    top = np.interp(xs[0], mouth.upper_edge[:, 0], mouth.upper_edge[:, 1])
    depth = np.clip((ys - top[None, :]) / max(2.0, 0.25 * float(gap.max())), 0.0, 1.0)
    interior *= (0.45 + 0.55 * depth)[..., None]

    alpha = _mask(shape, opening, offset)[..., None] * strength
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + interior * alpha, 0, 255).astype(np.uint8)


def _tooth_gaps(xs: Array, centre_x: float, half_w: float) -> Array:
    """Faint darker lines between teeth, narrower towards the corners (perspective)."""
    t = np.clip((xs - centre_x) / half_w, -1.0, 1.0)
    position = np.arcsin(t) * 2.6  # tooth index; arcsin packs teeth towards the corners
    line = np.abs(position - np.round(position))
    return np.asarray(0.8 + 0.2 * np.clip(line * 6.0, 0.0, 1.0))
