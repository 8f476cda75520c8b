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


@dataclass(frozen=True, slots=True)
class MouthLight:
    """How the reference image is lit, measured once per rig (see `measure_light`)."""

    teeth_bgr: tuple[float, float, float]
    """Colour of lit teeth: the photo's own where they show, else ivory at the image's light."""
    side: float
    """-1..1: light from the image left / right (the far inner wall of the mouth catches it)."""
    grain: float
    """Standard deviation of the image's fine texture on the skin, in 0..255 levels."""


_IVORY = np.array([196.0, 222.0, 236.0], np.float32)


def measure_light(image: Array, look: Appearance, samples: dict[str, Array]) -> MouthLight:
    """From pixel samples of the reference: "teeth" (may be empty), "left_cheek",
    "right_cheek" (BGR rows)."""
    weights = np.array([0.114, 0.587, 0.299])
    left = float(np.median(samples["left_cheek"] @ weights))
    right = float(np.median(samples["right_cheek"] @ weights))
    side = float(np.clip((right - left) / max(right + left, 1.0) * 6.0, -1.0, 1.0))
    teeth = samples["teeth"]
    if look.teeth_visible and len(teeth) >= 8:
        luma = teeth @ weights
        bright = teeth[luma >= np.percentile(luma, 60)]
        colour = np.median(bright, axis=0)
    else:
        colour = _IVORY * min(1.15, look.light / 0.7)
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5).astype(np.float32)
    detail = image.astype(np.float32) - blurred
    grain = float(np.clip(np.median(np.abs(detail)) * 1.4826, 0.0, 8.0))
    return MouthLight(
        teeth_bgr=(float(colour[0]), float(colour[1]), float(colour[2])), side=side, grain=grain
    )


def draw_interior(
    frame: Array,
    mouth: MouthShape,
    look: Appearance,
    strength: float = 1.0,
    light: MouthLight | None = None,
    noise: Array | None = None,
) -> None:
    """Paints the open part of the mouth into `frame` (BGR uint8) in place.

    Lit like the image around it: the cavity is the lips' own colour in shadow, darkest at
    the back and under the upper lip (light comes from in front and above), the wall on the
    side away from the light a little brighter; the tongue and lower teeth, further forward
    and facing up, catch more light than the roof. `noise` (unit-variance, at least the
    frame's size) adds the image's own grain so the interior is not flatter than the photo."""
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
    level = look.light / 0.7
    if light is None:
        ivory = _IVORY * min(1.15, level)
        light = MouthLight((float(ivory[0]), float(ivory[1]), float(ivory[2])), 0.0, 0.0)
    # Inside the mouth is the lips' colour, redder and in shade.
    flesh = np.array(look.lip_bgr, np.float32) * level * np.array([0.72, 0.74, 1.0], np.float32)
    tallest = float(gap.max())

    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    centre_x = float(opening[:, 0].mean())
    half_w = max(1.0, float(np.ptp(opening[:, 0])) / 2)
    signed = np.clip((xs - centre_x) / half_w, -1.0, 1.0)
    across = np.abs(signed)
    top = np.interp(xs[0], mouth.upper_edge[:, 0], mouth.upper_edge[:, 1])[None, :]
    bottom = np.interp(xs[0], mouth.lower_edge[:, 0], mouth.lower_edge[:, 1])[None, :]
    interior = _cavity(flesh, ys, top, bottom, across)
    # Light from one side reaches the opposite inner wall (cheek) of the mouth.
    interior *= (1.0 - 0.35 * light.side * signed * across)[..., None]
    interior = _tongue(interior, flesh, xs, ys, mouth, half_w, tallest)

    teeth_colour = np.array(light.teeth_bgr, np.float32)
    # Lower teeth stand further back and lower, under the upper lip's shadow, lit from above.
    # They also take a warm tint from the light bounced inside the mouth.
    lower_colour = 0.62 * teeth_colour + 0.22 * flesh
    for biting_edge, lip_edge, colour, lit_from_edge in (
        (mouth.upper_teeth_edge, mouth.upper_edge, teeth_colour, False),
        (mouth.lower_teeth_edge, mouth.lower_edge, lower_colour, True),
    ):
        if np.abs(lip_edge - biting_edge).max() < 0.5:
            continue  # no synthetic teeth here (the photo's own, or the jaw barely open)
        beyond = lip_edge + (lip_edge - biting_edge) * 2.0  # hidden root side, under the lip
        teeth = _soft_mask(shape, np.concatenate([biting_edge, beyond[::-1]]), offset)
        # Teeth curve away at the sides and sit in the lip's shadow.
        shade = 1.0 - 0.7 * across**2
        if lit_from_edge:
            # Only the front teeth show over the lower lip; the side ones are behind it.
            teeth = teeth * (1.0 - _smoothstep(0.25, 0.5, across))[..., None]
            edge_y = np.interp(xs[0], biting_edge[:, 0], biting_edge[:, 1])[None, :]
            height = np.maximum(bottom - edge_y, 1.0)
            # The biting edge catches the light; towards the lip they go into its shadow.
            shade = shade * (1.0 - 0.35 * np.clip((ys - edge_y) / height, 0.0, 1.0))
        gaps = _tooth_gaps(xs, centre_x, half_w)
        interior = interior * (1 - teeth) + colour * (shade * gaps)[..., None] * teeth

    # A contact shadow right under the upper lip or teeth: they overhang the cavity.
    below_top = np.clip((ys - top) / max(1.5, 0.22 * tallest), 0.0, 1.0)
    interior *= (0.5 + 0.5 * below_top)[..., None]
    # The wet inner rim of the lower lip: a thin band of the lip's colour, in half shade.
    rim = np.clip(1.0 - (bottom - ys) / max(1.2, 0.06 * tallest), 0.0, 1.0)[..., None]
    interior = interior * (1 - 0.6 * rim) + 0.6 * rim * flesh * 0.75

    if noise is not None and light.grain > 0.3:
        interior += light.grain * noise[y0:y1, x0:x1, None]

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


def _cavity(flesh: Array, ys: Array, top: Array, bottom: Array, across: Array) -> Array:
    """Flesh-coloured darkness, deepest at the back in the middle, lighter towards the lips
    and the corners where light from outside reaches in."""
    middle = (top + bottom) / 2
    half_gap = np.maximum((bottom - top) / 2, 1.0)
    radial = np.clip(np.sqrt(((ys - middle) / half_gap) ** 2 + across**2), 0.0, 1.0)
    brightness = 0.1 + 0.5 * radial**2.2
    return np.asarray(flesh * brightness[..., None], np.float32)


def _tongue(
    interior: Array,
    flesh: Array,
    xs: Array,
    ys: Array,
    mouth: MouthShape,
    half_w: float,
    tallest: float,
) -> Array:
    """The tongue behind the lower teeth: its front and top catch light from the opening, its
    back fades into the throat's shadow."""
    lower_mid = mouth.lower_edge[len(mouth.lower_edge) // 2]
    radius_x, radius_y = 0.62 * half_w, max(2.0, 0.6 * tallest)
    centre_y = lower_mid[1] + 0.1 * radius_y
    d2 = ((xs - lower_mid[0]) / radius_x) ** 2 + ((ys - centre_y) / radius_y) ** 2
    alpha = np.clip((1.0 - d2) * 3.0, 0.0, 1.0)
    # The tongue is only seen once the jaw drops well; small openings show darkness.
    alpha *= min(1.0, tallest / 10.0)
    # Higher in the picture is further back: the front, behind the teeth, is lit, the back not.
    lit = np.clip((ys - (centre_y - radius_y)) / (0.4 * radius_y), 0.0, 1.0)
    # A soft sheen across its upper surface (it is wet).
    sheen = np.exp(-(((ys - (centre_y - 0.5 * radius_y)) / (0.15 * radius_y)) ** 2))
    tone = 0.22 + 0.5 * lit + 0.15 * sheen * (1.0 - np.clip(d2, 0.0, 1.0))
    colour = flesh * tone[..., None] * np.array([0.9, 0.88, 1.05], np.float32)
    mixed = interior * (1 - alpha[..., None]) + colour * alpha[..., None]
    return np.asarray(mixed, np.float32)


def _smoothstep(edge0: float, edge1: float, x: Array) -> Array:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return np.asarray(t * t * (3.0 - 2.0 * t))


def _tooth_gaps(xs: Array, centre_x: float, half_w: float) -> Array:
    """Faint darker lines between teeth, narrower towards the corners (perspective)."""
    t = np.clip((xs - centre_x) / half_w, -1.0, 1.0)
    position = np.arcsin(t) * 2.6  # tooth index; arcsin packs teeth towards the corners
    line = np.abs(position - np.round(position))
    return np.asarray(0.8 + 0.2 * np.clip(line * 6.0, 0.0, 1.0))
