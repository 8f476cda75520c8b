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
    x0, y0 = np.floor(opening.min(axis=0)).astype(int) - 3
    x1, y1 = np.ceil(opening.max(axis=0)).astype(int) + 3
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, frame.shape[1]), min(y1, frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    shape = (y1 - y0, x1 - x0)
    offset = (x0, y0)
    light = look.light / 0.7
    lips = np.array(look.lip_bgr, np.float32)
    tallest = float(gap.max())

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    centre_x = float(opening[:, 0].mean())
    half_w = max(1.0, float(np.ptp(opening[:, 0])) / 2)
    across = np.clip(np.abs(xs - centre_x) / half_w, 0.0, 1.0)
    top = np.interp(xs[0], mouth.upper_edge[:, 0], mouth.upper_edge[:, 1])[None, :]
    bottom = np.interp(xs[0], mouth.lower_edge[:, 0], mouth.lower_edge[:, 1])[None, :]
    interior = _cavity(lips * light, ys, top, bottom, across)
    interior = _tongue(interior, lips * light, xs, ys, mouth, half_w, tallest)

    ivory = np.array([196.0, 222.0, 236.0], np.float32) * min(1.2, light)
    # Lower teeth sit in the shadow of the cavity, which is lip-tinted: pure ivory darkened
    # reads as grey-green next to the lips.
    shadowed = 0.45 * ivory + 0.3 * lips * light
    for biting_edge, lip_edge, colour in (
        (mouth.upper_teeth_edge, mouth.upper_edge, ivory),
        (mouth.lower_teeth_edge, mouth.lower_edge, shadowed),
    ):
        if np.abs(lip_edge - biting_edge).max() < 0.5:
            continue  # no synthetic teeth here (the photo's own, or the jaw barely open)
        beyond = lip_edge + (lip_edge - biting_edge) * 2.0  # hidden root side, under the lip
        teeth = _soft_mask(shape, np.concatenate([biting_edge, beyond[::-1]]), offset)
        # Teeth curve away at the sides and sit in the lip's shadow.
        shade = (1.0 - 0.7 * across**2)[..., None]
        gaps = _tooth_gaps(xs, centre_x, half_w)[..., None]
        interior = interior * (1 - teeth) + colour * shade * gaps * teeth

    # A narrow contact shadow right under the upper lip or teeth: they overhang the cavity.
    below_top = np.clip((ys - top) / max(1.5, 0.18 * tallest), 0.0, 1.0)
    interior *= (0.55 + 0.45 * below_top)[..., None]

    # Where the lips touch the polygon is a sliver that anti-aliasing would still draw as a
    # faint line (teeth-white on a closed-mouth face): fade it out by the local opening.
    parted = np.clip((bottom - top) / 1.5, 0.0, 1.0)[..., None]
    alpha = _soft_mask(shape, opening, offset) * parted * strength
    region = frame[y0:y1, x0:x1].astype(np.float32)
    frame[y0:y1, x0:x1] = np.clip(region * (1 - alpha) + interior * alpha, 0, 255).astype(np.uint8)


def _soft_mask(shape: tuple[int, int], polygon: Array, offset: tuple[int, int]) -> Array:
    """Anti-aliased and slightly blurred, like edges in a photo: a crisp one reads as a sticker."""
    mask = cv2.GaussianBlur(_mask(shape, polygon, offset), (0, 0), 0.8)
    return np.asarray(mask[..., None])


def _cavity(lit_lips: Array, ys: Array, top: Array, bottom: Array, across: Array) -> Array:
    """Lip-tinted darkness, deepest at the back in the middle, lighter towards the lips where
    light from outside reaches in."""
    middle = (top + bottom) / 2
    half_gap = np.maximum((bottom - top) / 2, 1.0)
    radial = np.clip(np.sqrt(((ys - middle) / half_gap) ** 2 + across**2), 0.0, 1.0)
    brightness = 0.06 + 0.42 * radial**2.5
    return np.asarray(lit_lips * brightness[..., None], np.float32)


def _tongue(
    interior: Array,
    lit_lips: Array,
    xs: Array,
    ys: Array,
    mouth: MouthShape,
    half_w: float,
    tallest: float,
) -> Array:
    """A dim tongue resting on the lower teeth; its back fades into the throat's shadow."""
    lower_mid = mouth.lower_edge[len(mouth.lower_edge) // 2]
    radius_x, radius_y = 0.5 * half_w, max(2.0, 0.5 * tallest)
    centre_y = lower_mid[1] + 0.15 * radius_y
    d2 = ((xs - lower_mid[0]) / radius_x) ** 2 + ((ys - centre_y) / radius_y) ** 2
    alpha = np.clip((1.0 - d2) * 2.5, 0.0, 1.0)
    # The tongue is only seen once the jaw drops well; small openings show darkness.
    alpha *= min(1.0, tallest / 12.0)
    lit = np.clip((ys - (centre_y - radius_y)) / radius_y, 0.0, 1.0)  # front is lit, back not
    colour = lit_lips * (0.3 + 0.4 * lit)[..., None] * np.array([0.85, 0.85, 1.0], np.float32)
    mixed = interior * (1 - alpha[..., None]) + colour * alpha[..., None]
    return np.asarray(mixed, np.float32)


def _tooth_gaps(xs: Array, centre_x: float, half_w: float) -> Array:
    """Faint darker lines between teeth, narrower towards the corners (perspective)."""
    t = np.clip((xs - centre_x) / half_w, -1.0, 1.0)
    position = np.arcsin(t) * 2.6  # tooth index; arcsin packs teeth towards the corners
    line = np.abs(position - np.round(position))
    return np.asarray(0.8 + 0.2 * np.clip(line * 6.0, 0.0, 1.0))
