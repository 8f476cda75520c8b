"""Displacement of face content for each linear parameter, as smooth fields over the face frame.

Every field says how far content at a point moves (in spans) when its parameter is 1. The warp is
linear in the parameters, so each field is rasterised once per rig over the face ROI and a frame
only sums them (`Renderer`). The lip seam is a cut: content below it follows the jaw, content
above it does not, which opens the mouth without dragging the upper lip down."""

from __future__ import annotations

from typing import Any

import numpy as np

from opencharacters.animation.rig import FaceGeometry

Array = np.ndarray[Any, Any]

JAW_DROP = 0.22
"""Lower-lip travel at full jaw opening, in spans."""
UPPER_OPEN_SHARE = 0.12
"""Share of the opening taken by the upper lip moving up."""
LIFT = 0.075
"""Upper-lip travel at full upper_lift, in spans (the teeth stay: the lip slides over them)."""
LIP_THICKNESS = 0.085
"""How far each lip reaches beyond its inner edge, in spans (kept rigid as the lips part)."""
CLOSE_PRESS = 0.03
"""How far past touching each lip is pushed at full closure (pressed and rolled in), spans."""
CLOSE_LOWER_SHARE = 0.65
"""Share of the photo's visible upper teeth that the lower lip covers when the lips close (the
jaw does most of the closing; the upper lip has only the short philtrum above it to stretch)."""
OPENING_WIDTH = 0.82
"""The lips part over this share of the corner-to-corner width; the corners stay joined."""


def _bump(d2: Array, radius: float) -> Array:
    return np.exp(-d2 / (radius * radius))


def _smoothstep(edge0: float, edge1: float, x: Array) -> Array:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def lip_profile(geometry: FaceGeometry, u: Array) -> Array:
    """Opening height across the mouth, 1 in the middle, 0 at the corners."""
    t = (u - geometry.mouth_u) / (OPENING_WIDTH * geometry.mouth_half_width)
    # Rounder than an ellipse at the corners: the lips stay joined there.
    return np.clip(1.0 - t * t, 0.0, 1.0) ** 1.2


def seam_v(geometry: FaceGeometry, u: Array) -> Array:
    """The cut between what follows the jaw and what does not, in spans below the eyes.

    Straight for closed lips; an arc rising towards the corners when it runs under a smile's
    upper teeth. Flat beyond the opening's ends, where the lips stay joined anyway."""
    t = np.clip((u - geometry.mouth_u) / (OPENING_WIDTH * geometry.mouth_half_width), -1.0, 1.0)
    return geometry.mouth_v - geometry.seam_curve * t * t


def teeth_above_seam(geometry: FaceGeometry) -> float:
    """Height of the photo's own upper teeth above the cut, in spans (0 without visible teeth)."""
    return max(
        0.0,
        geometry.mouth_gap - geometry.upper_lip_above_seam - geometry.lower_lip_below_seam,
    )


def _teeth_profile(geometry: FaceGeometry, u: Array) -> Array:
    """Visible teeth height across the mouth: near full until close to the corners."""
    t = np.abs(u - geometry.mouth_u) / (OPENING_WIDTH * geometry.mouth_half_width)
    return 1.0 - _smoothstep(0.7, 1.45, t)


def upper_lip_inner(geometry: FaceGeometry, u: Array) -> Array:
    """Inner (lower) edge of the upper lip in the reference image, spans below the eyes."""
    return (
        seam_v(geometry, u)
        - geometry.upper_lip_above_seam * lip_profile(geometry, u)
        - teeth_above_seam(geometry) * _teeth_profile(geometry, u)
    )


def close_amounts(geometry: FaceGeometry, u: Array) -> tuple[Array, Array]:
    """How far the upper lip moves down and the lower lip up (spans) at full closure."""
    profile = lip_profile(geometry, u)
    teeth = teeth_above_seam(geometry) * _teeth_profile(geometry, u)
    near = 1.0 - _smoothstep(0.7, 1.3, np.abs(u - geometry.mouth_u) / geometry.mouth_half_width)
    press = CLOSE_PRESS * near
    upper = geometry.upper_lip_above_seam * profile + (1.0 - CLOSE_LOWER_SHARE) * teeth + press
    lower = geometry.lower_lip_below_seam * profile + CLOSE_LOWER_SHARE * teeth + press
    return upper, lower


def _upper_lip_weight(geometry: FaceGeometry, u: Array, v: Array) -> Array:
    """1 on the upper lip, fading up to the nose and down to the cut.

    Between the lip's inner edge and the cut are the photo's own upper teeth (if any): they are
    fixed to the skull, so the weight falls to 0 at their biting edge and they stretch a little
    instead of riding up with the lip."""
    seam = seam_v(geometry, u)
    inner = upper_lip_inner(geometry, u)
    top = inner - LIP_THICKNESS
    above = 1.0 - np.clip((top - v) / 0.22, 0.0, 1.0)
    above = above * above * (3.0 - 2.0 * above)
    into_teeth = np.clip((v - inner) / np.maximum(seam - inner, 1e-3), 0.0, 1.0)
    teeth = 1.0 - into_teeth * into_teeth * (3.0 - 2.0 * into_teeth)
    across = 1.0 - _smoothstep(0.55, 1.25, np.abs(u - geometry.mouth_u) / geometry.mouth_half_width)
    return np.where(v < top, above, np.where(v > inner, teeth, 1.0)) * across


def head_depth(u: Array, v: Array) -> Array:
    """How far forward a point of the head is, 0 at its outline, about 1 at the face centre
    and more at the nose: turning the head moves deep points further than the outline."""
    r2 = (u / 1.35) ** 2 + ((v - 0.15) / 1.75) ** 2
    skull = np.clip(1.0 - r2, 0.0, 1.0) ** 0.6
    nose = 0.35 * _bump((u / 0.22) ** 2 + ((v - 0.5) / 0.3) ** 2, 1.0)
    return np.asarray(skull + nose)


def head_weight(geometry: FaceGeometry, u: Array, v: Array) -> Array:
    """1 over the head and hair, fading to 0 before the ROI border and down the neck."""
    dv = (v - 0.15) / 1.75
    r = np.sqrt((u / 1.35) ** 2 + dv * dv)
    return 1.0 - _smoothstep(0.85, 1.12, r)


def displacement(
    name: str, geometry: FaceGeometry, u: Array, v: Array, below_seam: Array
) -> tuple[Array, Array]:
    """(du, dv) in spans for parameter `name` at 1."""
    mu, mv = geometry.mouth_u, geometry.mouth_v
    zero = np.zeros_like(u)
    head = head_weight(geometry, u, v)
    if name == "jaw":
        across = lip_profile(geometry, u)
        wide = 1.0 - _smoothstep(0.45, 1.0, np.abs(u - mu))
        seam = seam_v(geometry, u)
        # The lower lip moves as one piece (it keeps its thickness and colour); the skin
        # under it takes up the difference between the lip's curve and the chin's drop.
        lip = geometry.lower_lip_below_seam + LIP_THICKNESS
        depth = _smoothstep(lip, lip + 0.4, v - seam)
        shape = across * (1.0 - depth) + wide * depth
        fade = 1.0 - _smoothstep(mv + 0.7, mv + 1.25, v)  # chin follows, neck does not
        lower = np.where(below_seam, JAW_DROP * shape * fade, 0.0)
        # The upper lip rises a little (over the teeth); the nose and cheeks do not.
        rise = UPPER_OPEN_SHARE * JAW_DROP * across * _upper_lip_weight(geometry, u, v)
        upper = np.where(below_seam, 0.0, -rise)
        return zero, (lower + upper) * head
    if name == "upper_lift":
        weight = _upper_lip_weight(geometry, u, v)
        # Over the photo's own teeth the lift stretches them: keep that under about 1.4x.
        teeth = teeth_above_seam(geometry)
        lift = LIFT if teeth == 0.0 else min(LIFT, 0.4 * teeth)
        return zero, np.where(below_seam, 0.0, -lift * weight) * head
    if name in ("smile", "spread", "round"):
        return _corners(name, geometry, u, v, head)
    if name == "close":
        return zero, zero  # not linear: the renderer applies `close_parts`
    if name == "brow":
        brows = _bump((np.abs(u) - 0.5) ** 2 + ((v + 0.38) / 0.8) ** 2, 0.32)
        return zero, -0.09 * brows * head
    if name == "gaze_x" or name == "gaze_y":
        iris = _eye_core(u, v)
        return (0.07 * iris, zero) if name == "gaze_x" else (zero, 0.035 * iris)
    if name == "yaw":
        # A turn, not a shear: points move by their depth, so the nose and the middle of the
        # face travel further than the cheeks and the outline (which barely moves, so it
        # does not tear from the background); the far side is squeezed, the near one widened.
        return 0.11 * (0.2 + 0.8 * head_depth(u, v)) * head, zero
    if name == "pitch":
        depth = head_depth(u, v)
        return zero, 0.075 * (0.2 + 0.8 * depth) * head
    if name == "roll":
        pivot_v = mv + 1.3
        angle = np.deg2rad(4.0)
        return -angle * (v - pivot_v) * head, angle * u * head
    if name == "breath":
        return zero, -0.025 * head
    if name == "blink":
        return zero, zero  # not linear: eyelids are drawn by eyes.py
    raise KeyError(name)


def close_parts(geometry: FaceGeometry, u: Array, v: Array) -> dict[str, Array]:
    """What the renderer needs to bring the lips together at any closure (spans, face frame).

    Closure is not linear: the lips slide over whatever the photo shows between them (its own
    teeth stay where they are, fixed to the skull) until they meet. For closure c an output
    point above `inner + c * upper` shows the upper lip moved down by c * upper * up_weight,
    one below `lower_inner - c * lower` the lower lip moved up by c * lower * down_weight, and
    anything between is the reference image, unmoved. The lower lip does most of the travel
    over visible teeth (the jaw closes); the upper lip, with only the philtrum above it to
    stretch, the rest. Fades are linear over at least 2.5 times the travel, so the inverse map
    never folds."""
    upper, lower = close_amounts(geometry, u)
    inner = upper_lip_inner(geometry, u)
    lower_inner = seam_v(geometry, u) + geometry.lower_lip_below_seam * lip_profile(geometry, u)
    fade_up = np.maximum(0.15, 2.5 * upper)
    up_weight = 1.0 - np.clip((inner - v) / fade_up, 0.0, 1.0)
    fade_down = np.maximum(0.2, 3.0 * lower)
    down_weight = 1.0 - np.clip((v - lower_inner - LIP_THICKNESS) / fade_down, 0.0, 1.0)
    head = head_weight(geometry, u, v)
    return {
        "inner": inner,
        "lower_inner": lower_inner,
        "upper": upper * head,
        "lower": lower * head,
        "up_weight": up_weight,
        "down_weight": down_weight,
    }


def _eye_core(u: Array, v: Array) -> Array:
    """Inside each eye opening, fading to 0 at the lids and corners so whites absorb the move."""
    total = np.zeros_like(u)
    for centre in (-0.5, 0.5):
        r = np.sqrt(((u - centre) / 0.2) ** 2 + (v / 0.085) ** 2)
        total = total + (1.0 - _smoothstep(0.35, 1.0, r))
    return total


def _corners(
    name: str, geometry: FaceGeometry, u: Array, v: Array, head: Array
) -> tuple[Array, Array]:
    mu, mv, half = geometry.mouth_u, geometry.mouth_v, geometry.mouth_half_width
    du = np.zeros_like(u)
    dv = np.zeros_like(u)
    for side in (-1.0, 1.0):
        corner_u = mu + side * half
        near = _bump((u - corner_u) ** 2 + ((v - mv) / 1.3) ** 2, 0.28)
        if name == "smile":
            cheek = _bump((u - side * 0.45) ** 2 + (v - 0.7) ** 2, 0.25)
            du += side * 0.07 * near
            dv += -0.08 * near - 0.035 * cheek
        elif name == "spread":
            du += side * 0.1 * near
        else:  # round: corners in, lips pushed out (they look fuller)
            # A wider bump than the others: a strong pull over a narrow one folds the warp.
            wide = _bump((u - corner_u) ** 2 + ((v - mv) / 1.3) ** 2, 0.36)
            du += -side * 0.18 * wide
    if name == "round":
        lips = _bump((u - mu) ** 2 / (half * half) + ((v - mv) / 0.2) ** 2, 1.0)
        # Away from the cut, and only where the lips part: past the opening's ends the lips
        # are joined, and pushing them apart there would tear the corners open.
        away = np.sign(v - seam_v(geometry, u)) * lip_profile(geometry, u) ** 2
        dv += away * 0.04 * lips
    return du * head, dv * head
