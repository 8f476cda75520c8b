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
LIFT = 0.06
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


def head_weight(geometry: FaceGeometry, u: Array, v: Array) -> Array:
    """1 over the head and hair, fading to 0 before the ROI border and down the neck."""
    dv = (v - 0.15) / 1.75
    r = np.sqrt((u / 1.35) ** 2 + dv * dv)
    return 1.0 - _smoothstep(0.85, 1.12, r)


def displacement(
    name: str, geometry: FaceGeometry, u: Array, v: Array, below_seam: Array
) -> tuple[Array, Array]:
    """(du, dv) in spans for parameter `name` at 1."""
    mu, mv, half = geometry.mouth_u, geometry.mouth_v, geometry.mouth_half_width
    zero = np.zeros_like(u)
    head = head_weight(geometry, u, v)
    if name == "jaw":
        across = lip_profile(geometry, u)
        wide = 1.0 - _smoothstep(0.45, 1.0, np.abs(u - mu))
        seam = seam_v(geometry, u)
        depth = _smoothstep(0.0, 0.35, v - seam)
        shape = across * (1.0 - depth) + wide * depth
        fade = 1.0 - _smoothstep(mv + 0.7, mv + 1.25, v)  # chin follows, neck does not
        lower = np.where(below_seam, JAW_DROP * shape * fade, 0.0)
        # The upper lip rises a little; the nose and cheeks do not.
        upper_fall = 1.0 - _smoothstep(0.0, 0.25, seam - v)
        upper = np.where(below_seam, 0.0, -UPPER_OPEN_SHARE * JAW_DROP * across * upper_fall)
        return zero, (lower + upper) * head
    if name == "upper_lift":
        fall = _bump((u - mu) ** 2 / (half * half) + ((v - mv + 0.05) / 0.14) ** 2, 1.0)
        return zero, np.where(below_seam, 0.0, -LIFT * fall) * head
    if name in ("smile", "spread", "round"):
        return _corners(name, geometry, u, v, head)
    if name == "close":
        # Lips pressed and rolled in: both lips thin towards the seam.
        near = _bump((u - mu) ** 2 / (half * half) + ((v - mv) / 0.12) ** 2, 1.0)
        return zero, np.where(below_seam, -0.025, 0.025) * near * head
    if name == "brow":
        brows = _bump((np.abs(u) - 0.5) ** 2 + ((v + 0.38) / 0.8) ** 2, 0.32)
        return zero, -0.09 * brows * head
    if name == "gaze_x" or name == "gaze_y":
        iris = _eye_core(u, v)
        return (0.07 * iris, zero) if name == "gaze_x" else (zero, 0.035 * iris)
    if name == "yaw":
        nose = _bump(u * u + ((v - 0.55) / 1.2) ** 2, 0.45)
        return 0.10 * (0.65 + 0.5 * nose) * head, zero
    if name == "pitch":
        nose = _bump(u * u + ((v - 0.55) / 1.2) ** 2, 0.45)
        return zero, 0.07 * (0.6 + 0.5 * nose) * head + 0.03 * (v - 0.5) * head
    if name == "roll":
        pivot_v = mv + 1.3
        angle = np.deg2rad(4.0)
        return -angle * (v - pivot_v) * head, angle * u * head
    if name == "breath":
        return zero, -0.025 * head
    if name == "blink":
        return zero, zero  # not linear: eyelids are drawn by eyes.py
    raise KeyError(name)


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
