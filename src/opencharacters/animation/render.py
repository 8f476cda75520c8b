"""Per-frame rendering: sum precomputed displacement fields, remap the face ROI, close the lids,
paint the mouth interior, paste into a cached background."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import cv2
import numpy as np

from opencharacters.animation import eyes
from opencharacters.animation.fields import (
    JAW_DROP,
    LIFT,
    OPENING_WIDTH,
    close_amounts,
    close_parts,
    displacement,
    lip_profile,
    seam_v,
    teeth_above_seam,
)
from opencharacters.animation.mouth import MouthLight, MouthShape, draw_interior, measure_light
from opencharacters.animation.params import PARAM_NAMES, FaceParams
from opencharacters.animation.rig import FaceGeometry, FaceRig, visible_teeth_height

Array = np.ndarray[Any, Any]
_LINEAR = tuple(name for name in PARAM_NAMES if name != "blink")
_HEAD = ("yaw", "pitch", "roll", "breath")
_MOUTH_SAMPLES = 25
_JAW_STEPS = 3
"""Fixed-point steps inverting the jaw's move (odd: pixels inside the opening, which the
interior covers, end on the upper side, so its anti-aliased edge blends with the upper lip)."""


def _refined_geometry(rig: FaceRig, image: Array) -> FaceGeometry:
    """The rig's face frame, with the photo's visible upper teeth measured on its image.

    The inner-lip landmarks overestimate how much teeth a smile shows; closing the lips over
    them and lifting the lip off them need their real height. The stored rig is unchanged."""
    g = rig.geometry
    if not rig.appearance.teeth_visible:
        return g
    teeth = visible_teeth_height(image, g)
    if teeth is None:
        return g
    return replace(g, mouth_gap=teeth + g.upper_lip_above_seam + g.lower_lip_below_seam)


class Renderer:
    """Built once per rig (a few tenths of a second); `render` is then cheap enough for 25 fps
    on one core."""

    def __init__(self, rig: FaceRig) -> None:
        self.rig = rig
        self.background = rig.image()
        height, width = self.background.shape[:2]
        self.geometry = geometry = _refined_geometry(rig, self.background)
        self.roi = x0, y0, x1, y1 = geometry.roi(width, height)
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        self._grid_x, self._grid_y = xs, ys
        u, v = geometry.to_face(xs, ys)
        below = v > seam_v(geometry, u)
        # Per parameter: pixel displacement over the smallest box where it is not ~0.
        self._fields: dict[str, tuple[tuple[slice, slice], Array, Array]] = {}
        for name in _LINEAR:
            du, dv = displacement(name, geometry, u, v, below)
            dx, dy = self._to_pixel_vectors(du, dv)
            moving = np.hypot(dx, dy) > 0.02
            if not moving.any():
                continue
            rows, cols = np.nonzero(moving.any(axis=1))[0], np.nonzero(moving.any(axis=0))[0]
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            self._fields[name] = (box, dx[box].astype(np.float32), dy[box].astype(np.float32))
        self._close = self._close_region(u, v)
        # Both components in one image: the jaw's inversion looks them up together.
        self._jaw_field = (
            np.dstack(self._fields["jaw"][1:]) if "jaw" in self._fields else np.zeros((1, 1, 2))
        ).astype(np.float32)
        self._eye_boxes = [
            (max(bx0, x0) - x0, max(by0, y0) - y0, min(bx1, x1) - x0, min(by1, y1) - y0)
            for bx0, by0, bx1, by1 in eyes.eye_boxes(geometry, margin_px=0.25 * geometry.span)
        ]
        # Closed lids sample this: blurred mostly across, since stretched skin streaks down.
        span = geometry.span
        self._lid_source = cv2.GaussianBlur(
            self.background, (0, 0), sigmaX=0.025 * span, sigmaY=0.008 * span
        )
        self._mouth_basis = self._mouth_curves()
        self.light = self._measure_light()
        # The image's own grain for the synthetic interior: fixed (no shimmer between frames).
        noise = np.random.default_rng(0).standard_normal(self.background.shape[:2])
        grain: Array = cv2.GaussianBlur(noise.astype(np.float32), (0, 0), 0.6)
        self._grain = grain / max(float(grain.std()), 1e-6)
        across = np.linspace(-1.0, 1.0, _MOUTH_SAMPLES)
        self._lower_teeth_height = (
            0.05 * geometry.span * np.clip(1.0 - (across / 0.5) ** 2, 0.0, 1.0) ** 0.5
        )

    def _close_region(self, u: Array, v: Array) -> dict[str, Any] | None:
        """`fields.close_parts` over the smallest box where closing the lips moves anything."""
        parts = close_parts(self.geometry, u, v)
        span = self.geometry.span
        moving = (
            (span * parts["upper"] * parts["up_weight"] > 0.02) & (v <= parts["lower_inner"])
        ) | ((span * parts["lower"] * parts["down_weight"] > 0.02) & (v >= parts["inner"]))
        if not moving.any():
            return None
        rows, cols = np.nonzero(moving.any(axis=1))[0], np.nonzero(moving.any(axis=0))[0]
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
        # Positions and travel in pixels along the face's vertical axis; weights unitless.
        region: dict[str, Any] = {
            name: (a if name.endswith("weight") else span * a)[box].astype(np.float32)
            for name, a in parts.items()
        }
        region["v"] = np.float32(span) * v[box].astype(np.float32)
        region["box"] = box
        return region

    def _apply_close(self, close: float, map_x: Array, map_y: Array) -> None:
        """The lips slide together over what lies between them (see `fields.close_parts`).

        Everything here is in pixels along the face's vertical axis; the switch between "shows
        the moved lip" and "shows the reference" is ramped over one pixel so lip edges stay
        anti-aliased."""
        region = self._close
        if region is None:
            return
        v = region["v"]
        top = region["inner"] + close * region["upper"]
        bottom = region["lower_inner"] - close * region["lower"]
        meet = (top + bottom) * 0.5
        crossed = top > bottom  # pressed: the lips meet half-way between where they'd reach
        cut_up = np.where(crossed, meet, top)
        cut_down = np.where(crossed, meet, bottom)
        # Where the lips meet, a pixel is one lip or the other: a blend of the two moves
        # would sample what lies between them (a dotted line of teeth).
        show_upper = np.where(crossed, v < meet, np.clip(cut_up - v + 0.5, 0.0, 1.0))
        show_lower = np.where(crossed, v >= meet, np.clip(v - cut_down + 0.5, 0.0, 1.0))
        dv = close * (
            show_upper * region["upper"] * region["up_weight"]
            - show_lower * region["lower"] * region["down_weight"]
        )
        box = region["box"]
        angle = self.geometry.angle
        map_x[box] += dv * np.float32(np.sin(angle))
        map_y[box] -= dv * np.float32(np.cos(angle))

    def _measure_light(self) -> MouthLight:
        g = self.geometry

        def sample(us: Array, vs: Array) -> Array:
            x, y = g.to_pixels(us, vs)
            xi = np.clip(np.round(x).astype(int), 0, self.background.shape[1] - 1)
            yi = np.clip(np.round(y).astype(int), 0, self.background.shape[0] - 1)
            return np.asarray(self.background[yi, xi].reshape(-1, 3).astype(np.float64))

        grid_u, grid_v = np.meshgrid(np.linspace(-0.1, 0.1, 5), np.linspace(0.5, 0.75, 6))
        teeth = np.zeros((0, 3))
        height = teeth_above_seam(g)
        if self.rig.appearance.teeth_visible and height > 0.0:
            tu, tv = np.meshgrid(
                g.mouth_u + 0.4 * g.mouth_half_width * np.linspace(-1, 1, 9),
                g.mouth_v - height * np.linspace(0.25, 0.75, 5),
            )
            teeth = sample(tu, tv)
        x0, y0, x1, y1 = self.roi
        return measure_light(
            self.background[y0:y1, x0:x1],
            self.rig.appearance,
            {
                "teeth": teeth,
                "left_cheek": sample(grid_u - 0.55, grid_v),
                "right_cheek": sample(grid_u + 0.55, grid_v),
            },
        )

    def _to_pixel_vectors(self, du: Array, dv: Array) -> tuple[Array, Array]:
        cos, sin = np.cos(self.geometry.angle), np.sin(self.geometry.angle)
        span = self.geometry.span
        return span * (du * cos - dv * sin), span * (du * sin + dv * cos)

    def _mouth_curves(self) -> dict[str, dict[str, tuple[Array, Array]]]:
        """Rest positions (key "rest") and per-parameter displacements of the mouth curves."""
        g = self.geometry
        half = OPENING_WIDTH * g.mouth_half_width
        u = np.linspace(g.mouth_u - half, g.mouth_u + half, _MOUTH_SAMPLES)
        t = (u - g.mouth_u) / half
        seam = seam_v(g, u)
        profile = lip_profile(g, u)
        curves = {
            "upper_edge": (u, seam - g.upper_lip_above_seam * profile, False),
            "lower_edge": (u, seam + g.lower_lip_below_seam * profile, True),
            "upper_teeth_edge": (u * 0.92, seam + 0.06 - 0.03 * t * t, False),
        }
        basis: dict[str, dict[str, tuple[Array, Array]]] = {}
        for curve, (cu, cv, below) in curves.items():
            flags = np.full(cu.shape, below)
            entry = {"rest": g.to_pixels(cu, cv)}
            names = _HEAD if curve == "upper_teeth_edge" else _LINEAR
            for name in names:
                entry[name] = self._to_pixel_vectors(*displacement(name, g, cu, cv, flags))
            if curve != "upper_teeth_edge":
                # The closure field has its own cut; on the lip edges it is simply the travel.
                # Over the photo's own teeth the upper lip slides down in front of them, and the
                # opening's top (their biting edge) stays.
                upper, lower = close_amounts(g, cu)
                if teeth_above_seam(g) > 0:
                    upper = np.zeros_like(upper)
                entry["close"] = self._to_pixel_vectors(
                    np.zeros_like(cu), -lower if below else upper
                )
            basis[curve] = entry
        return basis

    def _curve(self, curve: str, params: FaceParams) -> Array:
        entry = self._mouth_basis[curve]
        x, y = (c.copy() for c in entry["rest"])
        for name, (dx, dy) in entry.items():
            if name == "rest":
                continue
            value = getattr(params, name)
            if value:
                x += value * dx
                y += value * dy
        return np.stack([x, y], axis=1)

    def render(self, params: FaceParams) -> Array:
        """One BGR frame at the rig's output size."""
        x0, y0, x1, y1 = self.roi
        map_x, map_y = self._grid_x.copy(), self._grid_y.copy()
        for name, (box, dx, dy) in self._fields.items():
            value = getattr(params, name)
            if value and name != "jaw":
                # Inverse mapping: an output pixel shows the content that moved onto it.
                map_x[box] -= value * dx
                map_y[box] -= value * dy
        if params.close > 0.001:
            self._apply_close(params.close, map_x, map_y)
        if params.jaw and "jaw" in self._fields:
            self._apply_jaw(params.jaw, map_x, map_y)
        shades: list[tuple[tuple[int, int, int, int], Array, Array]] = []
        if params.blink > 0.01:
            for eye_box in self._eye_boxes:
                bx0, by0, bx1, by1 = eye_box
                shade, smooth = eyes.close_lids(
                    self.geometry, map_x[by0:by1, bx0:bx1], map_y[by0:by1, bx0:bx1], params.blink
                )
                shades.append((eye_box, shade, smooth))
        frame = self.background.copy()
        face = cv2.remap(
            self.background, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        for (bx0, by0, bx1, by1), shade, smooth in shades:
            patch = face[by0:by1, bx0:bx1].astype(np.float32)
            lid_skin = cv2.remap(
                self._lid_source,
                map_x[by0:by1, bx0:bx1],
                map_y[by0:by1, bx0:bx1],
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            ).astype(np.float32)
            patch += (lid_skin - patch) * smooth[..., None]
            face[by0:by1, bx0:bx1] = (patch * (1.0 - shade[..., None])).astype(np.uint8)
        frame[y0:y1, x0:x1] = face
        # Rounding alone also parts the lips a little (fields.py pushes them into an O).
        opening = params.jaw * JAW_DROP + params.upper_lift * LIFT + params.round * 0.04
        if opening > 0.004:
            # Fade the synthetic interior in so a mouth that is open in the photo does not pop.
            strength = min(1.0, opening / 0.04) if self.geometry.mouth_gap else 1.0
            draw_interior(
                frame,
                self.mouth_shape(params),
                self.rig.appearance,
                strength,
                self.light,
                self._grain,
            )
        return frame

    def _apply_jaw(self, jaw: float, map_x: Array, map_y: Array) -> None:
        """Inverts the jaw's move where the other fields say the content came from.

        The jaw moves content at s to s + jaw * d(s); an output pixel at p must show the s with
        s + jaw * d(s) = p, found by a few fixed-point steps s = p - jaw * d(s) (the field is
        looked up with a small `cv2.remap`). Evaluating d at p itself, as the linear fields
        do, would repeat the lower lip wherever the jaw's drop changes with depth (a smear at
        the lip's sides). Starting from the other fields' source position also keeps the
        tear with corners pulled in by rounding instead of where the lips part at rest."""
        box = self._fields["jaw"][0]
        x0, y0 = int(self.roi[0] + box[1].start), int(self.roi[1] + box[0].start)
        start_x = map_x[box] - x0
        start_y = map_y[box] - y0
        source_x, source_y = start_x, start_y
        for _ in range(_JAW_STEPS):
            moved = cv2.remap(
                self._jaw_field, source_x, source_y, cv2.INTER_LINEAR, borderValue=0.0
            )
            source_x = start_x - jaw * moved[..., 0]
            source_y = start_y - jaw * moved[..., 1]
        map_x[box] = source_x + x0
        map_y[box] = source_y + y0

    def mouth_shape(self, params: FaceParams) -> MouthShape:
        upper = self._curve("upper_edge", params)
        lower = self._curve("lower_edge", params)
        upper_teeth = self._curve("upper_teeth_edge", params)
        if self.rig.appearance.teeth_visible:
            upper_teeth = upper.copy()  # the photo's own teeth are above the cut
        # Lower teeth ride on the jaw just behind the lower lip, showing only mid-mouth.
        lower_teeth = lower.copy()
        # They show only once the jaw has dropped past the lower lip's own thickness.
        lower_teeth[:, 1] -= self._lower_teeth_height * float(
            np.clip(params.jaw * 2.5 - 0.4, 0.0, 1.0)
        )
        return MouthShape(upper, lower, upper_teeth, lower_teeth)

    def mouth_box(self) -> tuple[int, int, int, int]:
        """Output pixels where the mouth opens (for sync measurements): x0, y0, x1, y1."""
        g = self.geometry
        open_shape = self.mouth_shape(FaceParams(jaw=1.0))
        pts = np.concatenate([open_shape.upper_edge, open_shape.lower_edge])
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        inset = 0.1 * g.span
        return int(x0 + inset), int(y0), int(x1 - inset), int(y1 - JAW_DROP * 0.2 * g.span)
