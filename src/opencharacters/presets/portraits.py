"""Draws the nine preset portraits with OpenCV and numpy: no downloads, no third-party art.

`python -m opencharacters.presets.portraits [--out DIR]` writes `<id>.png` (1088 x 704, the
processed frame size, so processing keeps the whole picture) and `faces.json` (the eye and mouth
points each drawing was made with). The committed files under `images/` are this script's
output; it is deterministic, so running it again reproduces them. The face points are known
exactly because the faces are drawn around them, so processing never depends on a detector.

Every face is built on one layout: eyes 140 px apart on y = 290, closed mouth on y = 385, the
face centred where the rig frames it (eye span 0.2 of the height, centre at 0.47 of it), eye
openings about 22 px (the lid model's default) so blinks cover the whole eye. Everything is
drawn at twice the size and reduced, which anti-aliases the edges."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

Image = np.ndarray[Any, Any]
Mask = np.ndarray[Any, Any]
Colour = tuple[int, int, int]  # BGR

WIDTH, HEIGHT = 1088, 704
SS = 2  # supersampling factor
CX = 544.0
EYE_Y = 290.0
EYE_DX = 70.0
MOUTH_Y = 385.0
IMAGES_DIR = Path(__file__).with_name("images")


def rgb(hex_colour: str) -> Colour:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)


def darker(colour: Colour, factor: float) -> Colour:
    b, g, r = (int(c * factor) for c in colour)
    return (b, g, r)


# --- a small painter on a supersampled canvas ---------------------------------------------


class Canvas:
    def __init__(self) -> None:
        self.image = np.zeros((HEIGHT * SS, WIDTH * SS, 3), np.float32)

    @staticmethod
    def mask() -> Mask:
        return np.zeros((HEIGHT * SS, WIDTH * SS), np.float32)

    def fill(self, mask: Mask, colour: Colour | Image, alpha: float = 1.0) -> None:
        box = _bbox(mask)
        if box is None:
            return
        ys, xs = box
        a = np.clip(mask[ys, xs], 0.0, 1.0)[..., None] * alpha
        paint = np.asarray(colour, np.float32)
        if paint.ndim == 3:
            paint = paint[ys, xs]
        self.image[ys, xs] = self.image[ys, xs] * (1 - a) + paint * a

    def vertical_gradient(self, top: Colour, bottom: Colour) -> None:
        t = np.linspace(0, 1, HEIGHT * SS, dtype=np.float32)[:, None, None]
        self.image[:] = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t

    def result(self) -> Image:
        small = cv2.resize(self.image, (WIDTH, HEIGHT), interpolation=cv2.INTER_AREA)
        return np.asarray(np.clip(small + 0.5, 0, 255).astype(np.uint8))


def _bbox(mask: Mask) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if len(rows) == 0:
        return None
    cols = np.flatnonzero(mask[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _pt(x: float, y: float) -> tuple[int, int]:
    return round(x * SS), round(y * SS)


def ellipse(
    cx: float, cy: float, rx: float, ry: float, angle: float = 0, a0: float = 0, a1: float = 360
) -> Mask:
    m = Canvas.mask()
    cv2.ellipse(m, _pt(cx, cy), _pt(rx, ry), angle, a0, a1, 1.0, -1, cv2.LINE_AA)
    return m


def polygon(points: Sequence[tuple[float, float]]) -> Mask:
    m = Canvas.mask()
    pts = np.array([_pt(x, y) for x, y in points], np.int32)
    cv2.fillPoly(m, [pts], 1.0, cv2.LINE_AA)
    return m


def stroke(points: Sequence[tuple[float, float]], width: float, closed: bool = False) -> Mask:
    m = Canvas.mask()
    pts = np.array([_pt(x, y) for x, y in points], np.int32)
    cv2.polylines(m, [pts], closed, 1.0, max(1, round(width * SS)), cv2.LINE_AA)
    return m


def curve(points: Sequence[tuple[float, float]], steps: int = 40) -> list[tuple[float, float]]:
    """A Catmull-Rom curve through the points."""
    p = [points[0], *points, points[-1]]
    out: list[tuple[float, float]] = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = (np.array(p[j], np.float64) for j in (i - 1, i, i + 1, i + 2))
        for t in np.linspace(0, 1, steps, endpoint=False):
            q = 0.5 * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
            out.append((float(q[0]), float(q[1])))
    out.append((float(points[-1][0]), float(points[-1][1])))
    return out


def blob(points: Sequence[tuple[float, float]]) -> Mask:
    """A filled shape whose outline is a smooth curve through the points (closed)."""
    closed = [*points, points[0], points[1]]
    return polygon(curve(closed)[: -40 if len(points) > 2 else None])


def soft(mask: Mask, sigma: float) -> Mask:
    return np.asarray(cv2.GaussianBlur(mask, (0, 0), sigma * SS))


def union(*masks: Mask) -> Mask:
    return np.asarray(np.clip(np.maximum.reduce(masks), 0, 1))


def minus(mask: Mask, cut: Mask) -> Mask:
    return np.asarray(np.clip(mask - cut, 0, 1))


def shaded(
    canvas: Canvas,
    mask: Mask,
    colour: Colour,
    *,
    depth: float = 0.22,
    rim: float = 28.0,
    light: tuple[float, float] = (-0.5, -0.8),
    light_strength: float = 0.12,
) -> None:
    """Fills with a colour darkened towards the shape's edge and lit from one side."""
    binary = (mask > 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(binary, cv2.DIST_L2, 5) / SS
    inner = np.clip(dist / rim, 0, 1)
    inner = inner * inner * (3 - 2 * inner)
    ys, xs = np.nonzero(binary)
    if len(xs) == 0:
        return
    cx, cy = xs.mean(), ys.mean()
    half = max(float(xs.max() - xs.min()), float(ys.max() - ys.min()), 1.0) / 2
    yy = np.arange(HEIGHT * SS, dtype=np.float32)[:, None]
    xx = np.arange(WIDTH * SS, dtype=np.float32)[None, :]
    lit = ((xx - cx) * light[0] + (yy - cy) * light[1]) / half
    factor = (1 - depth) + depth * inner + light_strength * np.clip(lit, -1, 1)
    paint = np.asarray(colour, np.float32) * factor[..., None]
    canvas.fill(mask, paint)


def highlight(
    canvas: Canvas, mask: Mask, colour: Colour = (255, 255, 255), alpha: float = 0.35
) -> None:
    canvas.fill(mask, colour, alpha)


def outline(canvas: Canvas, mask: Mask, colour: Colour, width: float = 2.5) -> None:
    binary = (mask > 0.5).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (round(width * SS) | 1,) * 2)
    edge = cv2.morphologyEx(binary, cv2.MORPH_GRADIENT, kernel).astype(np.float32)
    canvas.fill(soft(edge, 0.5), colour)


# --- the face on the common layout ----------------------------------------------------------


@dataclass(frozen=True)
class Look:
    skin: Colour
    lips: Colour
    iris: Colour
    brow: Colour
    line: Colour
    blush: float = 0.18
    outline: bool = True
    lashes: bool = False
    brow_lift: float = 0.0
    face_width: float = 1.0


LEFT_EYE = (CX - EYE_DX, EYE_Y)
RIGHT_EYE = (CX + EYE_DX, EYE_Y)
MOUTH_HALF = 46.0
FACE_POINTS: dict[str, list[float]] = {
    "left_eye": [CX - EYE_DX, EYE_Y],
    "right_eye": [CX + EYE_DX, EYE_Y],
    "mouth_left": [CX - MOUTH_HALF, MOUTH_Y],
    "mouth_right": [CX + MOUTH_HALF, MOUTH_Y],
}


def head_mask(look: Look) -> Mask:
    w = look.face_width
    upper = ellipse(CX, 292, 148 * w, 172)
    jaw = blob(
        [
            (CX - 146 * w, 300),
            (CX - 128 * w, 390),
            (CX - 78 * w, 455),
            (CX, 482),
            (CX + 78 * w, 455),
            (CX + 128 * w, 390),
            (CX + 146 * w, 300),
            (CX, 250),
        ]
    )
    return union(upper, jaw)


def neck(canvas: Canvas, skin: Colour) -> None:
    shape = polygon([(CX - 56, 400), (CX + 56, 400), (CX + 62, 580), (CX - 62, 580)])
    shaded(canvas, shape, skin, depth=0.3, rim=40, light_strength=0.0)


def neck_and_ears(canvas: Canvas, look: Look) -> None:
    canvas.fill(soft(ellipse(CX, 470, 90, 40), 14), (0, 0, 0), 0.28)  # shadow under the chin
    for side in (-1, 1):
        ear = ellipse(CX + side * 146 * look.face_width, 318, 20, 36)
        shaded(canvas, ear, look.skin, depth=0.3, rim=10)
        canvas.fill(ellipse(CX + side * 148 * look.face_width, 320, 9, 20), look.lips, 0.25)


def face(canvas: Canvas, look: Look) -> Mask:
    head = head_mask(look)
    shaded(canvas, head, look.skin, depth=0.16, rim=36, light_strength=0.08)
    if look.outline:
        outline(canvas, head, look.line, 2.5)
    for side in (-1, 1):
        canvas.fill(soft(ellipse(CX + side * 92, 362, 34, 18), 9), rgb("#f07a7a"), look.blush)
    # Nose: a soft shadow on one side and a small tip highlight.
    canvas.fill(
        soft(stroke(curve([(CX + 8, 300), (CX + 12, 335), (CX + 4, 350)]), 5), 3), look.line, 0.22
    )
    canvas.fill(soft(ellipse(CX - 2, 346, 16, 7), 3), look.line, 0.12)
    canvas.fill(soft(ellipse(CX - 6, 336, 6, 5), 3), (255, 255, 255), 0.25)
    eyes(canvas, look)
    mouth(canvas, look)
    return head


def eyes(canvas: Canvas, look: Look) -> None:
    for side, (ex, ey) in ((-1, LEFT_EYE), (1, RIGHT_EYE)):
        # Eye socket shade, then the white: an almond 58 x 22 px (the blink model's size).
        canvas.fill(soft(ellipse(ex, ey - 4, 40, 20), 6), look.line, 0.10)
        almond = blob(
            [
                (ex - 29, ey + 1),
                (ex - 8, ey - 11),
                (ex + 12, ey - 11),
                (ex + 29, ey - 1),
                (ex + 8, ey + 10),
                (ex - 12, ey + 10),
            ]
        )
        canvas.fill(almond, rgb("#f7f4ef"))
        iris = ellipse(ex + side * 1, ey, 13, 13) * almond
        shaded(canvas, iris, look.iris, depth=0.45, rim=7, light=(0.0, 1.0), light_strength=0.2)
        canvas.fill(ellipse(ex + side * 1, ey, 6, 6) * almond, rgb("#141018"))
        canvas.fill(ellipse(ex + side * 1 - 4, ey - 4, 3.2, 3.2), (255, 255, 255), 0.95)
        canvas.fill(
            soft(
                stroke(
                    curve(
                        [
                            (ex - 29, ey + 1),
                            (ex - 8, ey - 11),
                            (ex + 12, ey - 11),
                            (ex + 29, ey - 1),
                        ]
                    ),
                    2.2,
                ),
                0.6,
            ),
            look.line,
            0.85,
        )
        canvas.fill(
            soft(almond * minus(ellipse(ex, ey + 8, 40, 16), ellipse(ex, ey + 12, 40, 16)), 1),
            look.line,
            0.12,
        )
        canvas.fill(
            soft(stroke(curve([(ex - 22, ey + 9), (ex, ey + 11), (ex + 22, ey + 8)]), 1.2), 0.6),
            look.line,
            0.3,
        )
        if look.lashes:
            outer = ex + side * 29
            canvas.fill(
                stroke([(outer, ey - 1 + side * 0), (outer + side * 9, ey - 8)], 2.4),
                look.line,
                0.9,
            )
            canvas.fill(
                stroke([(outer - side * 6, ey - 6), (outer + side * 2, ey - 14)], 2.0),
                look.line,
                0.8,
            )
        # Brow.
        lift = look.brow_lift
        brow = curve(
            [
                (ex - side * 30, ey - 30 - lift),
                (ex - side * 4, ey - 40 - lift),
                (ex + side * 30, ey - 34 - lift),
            ]
        )
        canvas.fill(soft(stroke(brow, 7), 0.8), look.brow, 0.95)


def mouth(canvas: Canvas, look: Look) -> None:
    left, right, y = CX - MOUTH_HALF, CX + MOUTH_HALF, MOUTH_Y
    upper = blob(
        [(left, y), (CX - 22, y - 9), (CX, y - 6), (CX + 22, y - 9), (right, y), (CX, y + 1)]
    )
    lower = blob([(left + 2, y), (CX, y + 1), (right - 2, y), (CX + 18, y + 13), (CX - 18, y + 13)])
    shaded(canvas, upper, darker(look.lips, 0.86), depth=0.2, rim=4, light_strength=0.0)
    shaded(canvas, lower, look.lips, depth=0.25, rim=6, light=(0, -1), light_strength=0.1)
    canvas.fill(soft(ellipse(CX - 4, y + 6, 14, 3), 1.5), (255, 255, 255), 0.28)
    canvas.fill(
        soft(
            stroke(
                curve(
                    [
                        (left - 2, y - 1),
                        (CX - 20, y + 1),
                        (CX, y + 1.5),
                        (CX + 20, y + 1),
                        (right + 2, y - 1),
                    ]
                ),
                2.0,
            ),
            0.5,
        ),
        look.line,
        0.8,
    )
    canvas.fill(soft(ellipse(CX, y + 24, 16, 5), 4), look.line, 0.10)


def torso(canvas: Canvas, colour: Colour, skin: Colour, *, line: Colour = (30, 30, 40)) -> Mask:
    neck(canvas, skin)
    body = blob(
        [
            (CX - 340, 704 + 60),
            (CX - 300, 600),
            (CX - 150, 548),
            (CX, 540),
            (CX + 150, 548),
            (CX + 300, 600),
            (CX + 340, 704 + 60),
            (CX, 760),
        ]
    )
    shaded(canvas, body, colour, depth=0.25, rim=60, light_strength=0.12)
    outline(canvas, body, line, 2.5)
    return body


def strands(
    canvas: Canvas, region: Mask, colour: Colour, crown: tuple[float, float], count: int = 9
) -> None:
    """Darker lines fanning from the crown, so a hair mass reads as hair."""
    box = _bbox(region > 0.5)
    if box is None:
        return
    ys, xs = box
    x0, x1 = xs.start / SS, xs.stop / SS
    bottom = ys.stop / SS
    for k in range(count):
        t = (k + 0.5) / count
        end_x = x0 + (x1 - x0) * t
        mid = ((crown[0] + end_x) / 2 + (end_x - crown[0]) * 0.25, (crown[1] + bottom) / 2)
        line = stroke(curve([crown, mid, (end_x, bottom)]), 2.5)
        canvas.fill(soft(line, 1.0) * region, colour, 0.35)


def background_glow(
    canvas: Canvas, top: str, bottom: str, glow: str, glow_alpha: float = 0.5
) -> None:
    canvas.vertical_gradient(rgb(top), rgb(bottom))
    canvas.fill(soft(ellipse(CX, 330, 380, 300), 90), rgb(glow), glow_alpha)


def bokeh(canvas: Canvas, colours: Sequence[str], seed: int, count: int = 26) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        x = float(rng.uniform(0, WIDTH))
        if abs(x - CX) < 230:
            x += 460 if x > CX else -460
        y = float(rng.uniform(20, HEIGHT - 40))
        r = float(rng.uniform(12, 46))
        colour = rgb(colours[int(rng.integers(len(colours)))])
        canvas.fill(soft(ellipse(x, y, r, r), 3), colour, float(rng.uniform(0.18, 0.45)))


# --- the nine characters -----------------------------------------------------------------


def game_character() -> Image:
    """Nova: a space ranger heroine, teal hair, headset, starfield."""
    c = Canvas()
    background_glow(c, "#0b1030", "#251447", "#3a3fa0", 0.6)
    rng = np.random.default_rng(7)
    for _ in range(140):
        x, y = float(rng.uniform(0, WIDTH)), float(rng.uniform(0, HEIGHT))
        c.fill(ellipse(x, y, 1.4, 1.4), (255, 255, 255), float(rng.uniform(0.3, 0.9)))
    look = Look(
        skin=rgb("#f6d2b8"),
        lips=rgb("#e0707e"),
        iris=rgb("#2cc6d8"),
        brow=rgb("#1f6f86"),
        line=rgb("#2a2038"),
        lashes=True,
        blush=0.22,
    )
    hair = rgb("#2fb8c8")
    c.fill(
        blob(
            [
                (CX - 200, 200),
                (CX - 170, 90),
                (CX, 60),
                (CX + 170, 90),
                (CX + 205, 210),
                (CX + 215, 470),
                (CX + 150, 430),
                (CX - 150, 430),
                (CX - 215, 470),
            ]
        ),
        hair,
    )
    torso(c, rgb("#3b3f6e"), look.skin, line=look.line)
    suit = polygon(
        [
            (CX - 150, 560),
            (CX - 60, 540),
            (CX, 600),
            (CX + 60, 540),
            (CX + 150, 560),
            (CX + 120, 704),
            (CX - 120, 704),
        ]
    )
    shaded(c, suit, rgb("#e9edf5"), depth=0.2, rim=30)
    outline(c, suit, look.line, 2)
    c.fill(stroke([(CX - 130, 640), (CX + 130, 640)], 6), rgb("#ff8a3d"))
    neck_and_ears(c, look)
    face(c, look)
    bangs = blob(
        [
            (CX - 160, 250),
            (CX - 150, 140),
            (CX - 40, 95),
            (CX + 90, 110),
            (CX + 165, 200),
            (CX + 150, 250),
            (CX + 80, 190),
            (CX + 20, 215),
            (CX - 60, 180),
            (CX - 110, 240),
        ]
    )
    shaded(c, bangs, hair, depth=0.3, rim=25)
    strands(c, bangs, look.line, (CX + 20, 70))
    outline(c, bangs, look.line, 2)
    c.fill(
        soft(stroke(curve([(CX - 60, 120), (CX + 10, 110), (CX + 80, 135)]), 6), 2),
        (255, 255, 255),
        0.35,
    )
    # Headset: band over the hair, ear cup and microphone boom.
    c.fill(
        stroke(
            curve([(CX - 168, 300), (CX - 150, 130), (CX, 80), (CX + 150, 130), (CX + 168, 300)]),
            10,
        ),
        rgb("#3d4459"),
    )
    for side in (-1, 1):
        cup = ellipse(CX + side * 160, 318, 30, 44)
        shaded(c, cup, rgb("#4a5270"), depth=0.3, rim=12)
        c.fill(ellipse(CX + side * 160, 318, 14, 22), rgb("#ff8a3d"))
    c.fill(stroke(curve([(CX - 165, 350), (CX - 150, 410), (CX - 90, 420)]), 5), rgb("#3d4459"))
    c.fill(ellipse(CX - 84, 420, 9, 7), rgb("#ff8a3d"))
    return c.result()


def music_superstar() -> Image:
    """Mina: a pop star, violet hair with pink tips, stage lights."""
    c = Canvas()
    background_glow(c, "#2a0a3a", "#0d0620", "#c0379a", 0.45)
    for x, col in ((140, "#ff5fc8"), (330, "#6f7bff"), (760, "#ffd166"), (950, "#ff5fc8")):
        beam = polygon(
            [
                (x - 20, 0),
                (x + 20, 0),
                (x + 140 * (1 if x < CX else -1) + 60, 704),
                (x + 140 * (1 if x < CX else -1) - 60, 704),
            ]
        )
        c.fill(soft(beam, 20), rgb(col), 0.16)
    bokeh(c, ["#ff5fc8", "#ffd166", "#6f7bff"], seed=3)
    look = Look(
        skin=rgb("#f1c7a8"),
        lips=rgb("#d63f6e"),
        iris=rgb("#7a4fd6"),
        brow=rgb("#3b2450"),
        line=rgb("#2a1630"),
        lashes=True,
        blush=0.25,
    )
    hair = rgb("#7b4bd1")
    c.fill(
        blob(
            [
                (CX - 215, 230),
                (CX - 180, 90),
                (CX, 55),
                (CX + 180, 90),
                (CX + 215, 230),
                (CX + 245, 560),
                (CX + 120, 520),
                (CX - 120, 520),
                (CX - 245, 560),
            ]
        ),
        hair,
    )
    torso(c, rgb("#1c1028"), look.skin, line=look.line)
    sequins = c.mask()
    rng = np.random.default_rng(11)
    for _ in range(180):
        sx, sy = float(rng.uniform(CX - 300, CX + 300)), float(rng.uniform(600, 704))
        cv2.circle(sequins, _pt(sx, sy), 3 * SS, 1.0, -1, cv2.LINE_AA)
    c.fill(sequins, rgb("#e6c3ff"), 0.55)
    neck_and_ears(c, look)
    c.fill(stroke(curve([(CX - 60, 520), (CX, 560), (CX + 60, 520)]), 3), rgb("#ffd166"))
    face(c, look)
    bangs = blob(
        [
            (CX - 170, 280),
            (CX - 160, 140),
            (CX - 30, 90),
            (CX + 120, 110),
            (CX + 170, 220),
            (CX + 160, 270),
            (CX + 110, 170),
            (CX + 20, 160),
            (CX - 90, 190),
            (CX - 140, 300),
        ]
    )
    shaded(c, bangs, hair, depth=0.3, rim=25)
    strands(c, bangs, look.line, (CX + 20, 70))
    outline(c, bangs, look.line, 2)
    for side in (-1, 1):
        lock = blob(
            [
                (CX + side * 150, 250),
                (CX + side * 185, 380),
                (CX + side * 175, 520),
                (CX + side * 140, 400),
            ]
        )
        shaded(c, lock, hair, depth=0.3, rim=14)
        c.fill(lock * (np.arange(HEIGHT * SS)[:, None] > 440 * SS), rgb("#ff6fb5"), 0.8)
        star_x, star_y = CX + side * 150, 372
        star = [
            (
                star_x + 11 * np.sin(a) * (1 if i % 2 == 0 else 0.45),
                star_y - 11 * np.cos(a) * (1 if i % 2 == 0 else 0.45),
            )
            for i, a in enumerate(np.linspace(0, 2 * np.pi, 10, endpoint=False))
        ]
        c.fill(polygon(star), rgb("#ffd166"))
    c.fill(
        soft(stroke(curve([(CX - 90, 120), (CX, 100), (CX + 90, 125)]), 7), 2), (255, 255, 255), 0.3
    )
    return c.result()


def game_character_man() -> Image:
    """Rex: a fantasy warrior, spiky auburn hair, scar, armour with pauldrons."""
    c = Canvas()
    background_glow(c, "#2b3a2a", "#121812", "#9a7a3a", 0.4)
    for i in range(6):  # distant mountains
        x = i * 230 - 60
        c.fill(
            polygon([(x, 560), (x + 120, 380 + 20 * (i % 3)), (x + 240, 560)]), rgb("#1d281d"), 0.8
        )
    look = Look(
        skin=rgb("#e3b48f"),
        lips=rgb("#b86a5c"),
        iris=rgb("#4f7a3a"),
        brow=rgb("#5a2a14"),
        line=rgb("#2a1a12"),
        blush=0.08,
        brow_lift=-4,
        face_width=1.06,
    )
    hair = rgb("#a0451f")
    torso(c, rgb("#5d6470"), look.skin, line=look.line)
    for side in (-1, 1):
        pauldron = ellipse(CX + side * 235, 610, 120, 70, angle=side * -12)
        shaded(c, pauldron, rgb("#8a93a3"), depth=0.35, rim=30)
        outline(c, pauldron, look.line, 3)
        for k in range(3):
            c.fill(ellipse(CX + side * (175 + 45 * k), 600 - 8 * k, 5, 5), rgb("#d9c27a"))
    plate = polygon([(CX - 110, 560), (CX + 110, 560), (CX + 90, 704), (CX - 90, 704)])
    shaded(c, plate, rgb("#9aa3b3"), depth=0.3, rim=30)
    outline(c, plate, look.line, 2.5)
    c.fill(stroke([(CX, 570), (CX, 704)], 4), look.line, 0.5)
    neck_and_ears(c, look)
    head = face(c, look)
    # Stubble and a scar over the left brow.
    c.fill(soft(head * ellipse(CX, 440, 120, 60), 6), rgb("#7a4a30"), 0.18)
    c.fill(stroke([(CX - 88, 236), (CX - 62, 270)], 3), rgb("#c07a68"), 0.8)
    spikes = [
        (CX - 165, 270),
        (CX - 200, 170),
        (CX - 140, 150),
        (CX - 150, 70),
        (CX - 70, 105),
        (CX - 40, 30),
        (CX + 20, 95),
        (CX + 90, 40),
        (CX + 110, 120),
        (CX + 190, 110),
        (CX + 160, 190),
        (CX + 200, 250),
        (CX + 150, 250),
        (CX + 110, 190),
        (CX + 40, 200),
        (CX - 30, 180),
        (CX - 100, 200),
        (CX - 140, 280),
    ]
    top = polygon(spikes)
    shaded(c, top, hair, depth=0.35, rim=22)
    outline(c, top, look.line, 2.5)
    c.fill(soft(stroke([(CX - 60, 110), (CX + 40, 140)], 5), 2), (255, 255, 255), 0.25)
    return c.result()


def cat_character() -> Image:
    """Mochi: a round cream-and-ginger cat mascot with a bell collar."""
    c = Canvas()
    background_glow(c, "#ffe8b8", "#ffc9a0", "#fff4dc", 0.7)
    for i in range(14):
        x, y = 90 + (i % 7) * 150, 120 + (i // 7) * 430
        if abs(x - CX) > 250:
            c.fill(soft(ellipse(x, y, 22, 20), 1), rgb("#ffb38a"), 0.45)
            for k, (dx, dy) in enumerate(((-20, -26), (-7, -34), (7, -34), (20, -26))):
                c.fill(ellipse(x + dx, y + dy, 8, 9), rgb("#ffb38a"), 0.45 + 0 * k)
    fur, ginger, line = rgb("#fff3e2"), rgb("#f2a65a"), rgb("#4a3428")
    look = Look(
        skin=fur,
        lips=rgb("#f29aa6"),
        iris=rgb("#6fbf4f"),
        brow=ginger,
        line=line,
        blush=0.3,
        face_width=1.12,
    )
    torso(c, fur, look.skin, line=line)
    c.fill(ellipse(CX, 704, 160, 120), rgb("#ffe3c4"), 0.8)
    for side in (-1, 1):
        ear = polygon([(CX + side * 70, 170), (CX + side * 175, 60), (CX + side * 170, 230)])
        shaded(c, ear, ginger, depth=0.3, rim=14)
        outline(c, ear, line, 2.5)
        c.fill(
            polygon([(CX + side * 95, 175), (CX + side * 160, 100), (CX + side * 158, 205)]),
            rgb("#f7b7c0"),
        )
    head = union(ellipse(CX, 320, 190, 170), ellipse(CX, 390, 160, 110))
    shaded(c, head, fur, depth=0.14, rim=40)
    c.fill(
        head
        * soft(
            union(
                ellipse(CX, 170, 120, 60),
                ellipse(CX - 170, 300, 50, 60),
                ellipse(CX + 170, 300, 50, 60),
            ),
            12,
        ),
        ginger,
        0.9,
    )
    for k in (-1, 0, 1):  # forehead stripes
        c.fill(stroke([(CX + k * 28, 160), (CX + k * 22, 205)], 8), rgb("#d8843c"), 0.9)
    outline(c, head, line, 2.5)
    for side in (-1, 1):
        c.fill(soft(ellipse(CX + side * 105, 365, 32, 16), 8), rgb("#ff9aa6"), 0.35)
        for k, dy in enumerate((-8, 6, 20)):
            c.fill(
                stroke(
                    [
                        (CX + side * 80, 370 + dy * 0.3),
                        (CX + side * 190, 355 + dy * (1.4 + 0.2 * k)),
                    ],
                    1.6,
                ),
                line,
                0.55,
            )
    eyes(c, look)
    # Muzzle: a pink nose over the mouth line (the cat's "lips" are the muzzle's lower edge).
    c.fill(
        soft(union(ellipse(CX - 26, 372, 32, 24), ellipse(CX + 26, 372, 32, 24)), 3),
        (255, 255, 255),
        0.55,
    )
    c.fill(blob([(CX - 14, 340), (CX + 14, 340), (CX, 356)]), rgb("#e8728a"))
    c.fill(stroke([(CX, 356), (CX, 372)], 2.2), line, 0.8)
    mouth(c, look)
    # Collar and bell.
    c.fill(stroke(curve([(CX - 150, 520), (CX, 552), (CX + 150, 520)]), 16), rgb("#e0455c"))
    bell = ellipse(CX, 575, 20, 20)
    shaded(c, bell, rgb("#f3c64a"), depth=0.4, rim=8)
    outline(c, bell, line, 2)
    return c.result()


def influencer() -> Image:
    """Zoe: a lifestyle creator, wavy honey hair, ring-light catchlights, cafe bokeh."""
    c = Canvas()
    background_glow(c, "#f6d9d2", "#e8b9b0", "#fff1e8", 0.6)
    bokeh(c, ["#fff6e0", "#ffd1c2", "#ffe3a8"], seed=21, count=30)
    look = Look(
        skin=rgb("#e8b892"),
        lips=rgb("#d0626f"),
        iris=rgb("#6b4a2e"),
        brow=rgb("#5e3a22"),
        line=rgb("#3a2418"),
        lashes=True,
        blush=0.24,
    )
    hair = rgb("#c98d4a")
    c.fill(
        blob(
            [
                (CX - 205, 230),
                (CX - 175, 90),
                (CX, 60),
                (CX + 175, 90),
                (CX + 210, 240),
                (CX + 240, 600),
                (CX + 150, 600),
                (CX - 150, 600),
                (CX - 240, 600),
            ]
        ),
        hair,
    )
    torso(c, rgb("#f4f0ea"), look.skin, line=look.line)
    c.fill(polygon([(CX - 60, 548), (CX + 60, 548), (CX, 640)]), look.skin)
    neck_and_ears(c, look)
    c.fill(stroke(curve([(CX - 50, 545), (CX, 585), (CX + 50, 545)]), 2), rgb("#d9b24a"))
    face(c, look)
    part = blob(
        [
            (CX - 165, 300),
            (CX - 165, 150),
            (CX - 60, 85),
            (CX + 60, 80),
            (CX + 160, 140),
            (CX + 170, 300),
            (CX + 120, 180),
            (CX + 40, 130),
            (CX - 10, 135),
            (CX - 120, 190),
        ]
    )
    shaded(c, part, hair, depth=0.3, rim=25)
    strands(c, part, look.line, (CX - 10, 70))
    outline(c, part, look.line, 2)
    for side in (-1, 1):
        for k in range(3):
            wave = stroke(
                curve(
                    [
                        (CX + side * (155 + 14 * k), 260 + 10 * k),
                        (CX + side * (185 + 10 * k), 360),
                        (CX + side * (160 + 12 * k), 450),
                        (CX + side * (190 + 10 * k), 560),
                    ]
                ),
                8,
            )
            c.fill(soft(wave, 1.2), rgb("#e3ad68"), 0.6)
        c.fill(ellipse(CX + side * 150, 362, 6, 6), rgb("#f0d27a"))
    for side in (-1, 1):  # ring-light catchlights
        ex = CX + side * EYE_DX
        c.fill(
            minus(ellipse(ex + side - 1, EYE_Y, 8, 8), ellipse(ex + side - 1, EYE_Y, 6, 6)),
            (255, 255, 255),
            0.55,
        )
    return c.result()


def tennis_coach() -> Image:
    """Diego: a tennis coach, painted with soft light: tan skin, stubble, headband, court."""
    c = Canvas()
    c.vertical_gradient(rgb("#7fb8e6"), rgb("#d7ecf7"))
    c.fill(polygon([(0, 470), (WIDTH, 470), (WIDTH, HEIGHT), (0, HEIGHT)]), rgb("#3f7f4f"))
    c.fill(polygon([(0, 430), (WIDTH, 430), (WIDTH, 470), (0, 470)]), rgb("#2f5f3f"))
    net = c.mask()
    for x in range(0, WIDTH, 14):
        cv2.line(net, _pt(x, 430), _pt(x, 470), 1.0, SS, cv2.LINE_AA)
    c.fill(soft(net, 0.5), rgb("#e8f0f0"), 0.35)
    c.fill(stroke([(0, 430), (WIDTH, 430)], 5), (255, 255, 255))
    c.fill(soft(ellipse(CX, 330, 420, 330), 80), (255, 255, 255), 0.15)
    look = Look(
        skin=rgb("#c68a5e"),
        lips=rgb("#a35a4f"),
        iris=rgb("#4a2e1a"),
        brow=rgb("#2e1d14"),
        line=rgb("#2a1a10"),
        blush=0.06,
        outline=False,
        face_width=1.04,
    )
    hair = rgb("#2b1c14")
    torso(c, rgb("#1f5fae"), look.skin, line=rgb("#163f73"))
    collar = polygon([(CX - 110, 545), (CX - 30, 560), (CX - 45, 610)])
    collar2 = polygon([(CX + 110, 545), (CX + 30, 560), (CX + 45, 610)])
    for col in (collar, collar2):
        shaded(c, col, rgb("#f2f4f7"), depth=0.2, rim=10)
    c.fill(stroke([(CX - 260, 640), (CX - 200, 704)], 10), rgb("#f2f4f7"), 0.9)
    neck_and_ears(c, look)
    head = face(c, look)
    c.fill(soft(head * ellipse(CX, 440, 125, 70), 8), rgb("#3a2a20"), 0.22)  # stubble shadow
    top = blob(
        [
            (CX - 160, 270),
            (CX - 150, 140),
            (CX - 60, 95),
            (CX + 60, 95),
            (CX + 150, 140),
            (CX + 160, 270),
            (CX + 120, 200),
            (CX, 185),
            (CX - 120, 200),
        ]
    )
    shaded(c, top, hair, depth=0.3, rim=20)
    band = polygon(
        [
            (CX - 158, 206),
            (CX - 120, 186),
            (CX, 176),
            (CX + 120, 186),
            (CX + 158, 206),
            (CX + 156, 234),
            (CX + 120, 214),
            (CX, 205),
            (CX - 120, 214),
            (CX - 156, 234),
        ]
    )
    shaded(c, band, rgb("#f4f6f8"), depth=0.25, rim=8)
    c.fill(stroke([(CX - 30, 196), (CX + 30, 196)], 3), rgb("#e05a3a"), 0.9)
    ball = ellipse(CX + 340, 580, 42, 42)
    shaded(c, ball, rgb("#d7e84a"), depth=0.35, rim=16)
    c.fill(
        stroke(curve([(CX + 305, 560), (CX + 340, 585), (CX + 375, 560)]), 3), (250, 250, 250), 0.9
    )
    # A little skin texture so the paint reads less flat.
    grain = np.random.default_rng(5).normal(0, 4.0, (HEIGHT * SS, WIDTH * SS)).astype(np.float32)
    c.image += (soft(grain[..., None].repeat(3, 2)[..., 0], 0.7) * head)[..., None]
    return c.result()


def human_resource() -> Image:
    """Grace: an HR partner, neat dark bob, navy blazer, calm office."""
    c = Canvas()
    c.vertical_gradient(rgb("#e9eef2"), rgb("#cfd8df"))
    for x in (90, 250, 830, 990):
        c.fill(
            polygon([(x - 50, 80), (x + 50, 80), (x + 50, 380), (x - 50, 380)]), rgb("#f6f9fb"), 0.8
        )
    leaf = rgb("#5d9a6a")
    for k in range(7):
        a = -1.2 + 0.4 * k
        c.fill(
            ellipse(930 + 70 * np.sin(a), 420 - 60 * np.cos(a), 18, 42, angle=np.degrees(a)),
            leaf,
            0.9,
        )
    c.fill(polygon([(895, 470), (965, 470), (955, 560), (905, 560)]), rgb("#c9a27a"))
    look = Look(
        skin=rgb("#d9a27c"),
        lips=rgb("#b5566a"),
        iris=rgb("#3e2a1e"),
        brow=rgb("#241a16"),
        line=rgb("#241a16"),
        lashes=True,
        blush=0.15,
    )
    hair = rgb("#2a1e1a")
    c.fill(
        blob(
            [
                (CX - 190, 230),
                (CX - 165, 95),
                (CX, 60),
                (CX + 165, 95),
                (CX + 190, 230),
                (CX + 185, 440),
                (CX + 120, 470),
                (CX - 120, 470),
                (CX - 185, 440),
            ]
        ),
        hair,
    )
    torso(c, rgb("#24355c"), look.skin, line=rgb("#141c30"))
    blouse = polygon([(CX - 70, 548), (CX + 70, 548), (CX + 40, 704), (CX - 40, 704)])
    shaded(c, blouse, rgb("#f3ece6"), depth=0.15, rim=15)
    for side in (-1, 1):
        lapel = polygon([(CX + side * 70, 548), (CX + side * 140, 560), (CX + side * 40, 704)])
        shaded(c, lapel, rgb("#2c4070"), depth=0.3, rim=15)
        outline(c, lapel, rgb("#141c30"), 2)
    c.fill(stroke([(CX - 90, 580), (CX - 60, 640)], 2), rgb("#1f8a8a"), 0.9)
    badge = polygon([(CX - 80, 640), (CX - 40, 640), (CX - 40, 690), (CX - 80, 690)])
    shaded(c, badge, (250, 250, 250), depth=0.1, rim=5)
    neck_and_ears(c, look)
    face(c, look)
    bob = blob(
        [
            (CX - 170, 330),
            (CX - 160, 150),
            (CX - 40, 88),
            (CX + 110, 100),
            (CX + 168, 190),
            (CX + 170, 330),
            (CX + 140, 220),
            (CX + 40, 150),
            (CX - 60, 160),
            (CX - 130, 230),
        ]
    )
    shaded(c, bob, hair, depth=0.3, rim=22)
    strands(c, bob, rgb("#4a3a34"), (CX + 30, 70))
    c.fill(
        soft(stroke(curve([(CX - 80, 120), (CX + 20, 105), (CX + 110, 130)]), 6), 2),
        (255, 255, 255),
        0.18,
    )
    for side in (-1, 1):
        c.fill(ellipse(CX + side * 148, 364, 5, 5), rgb("#e7e2d6"))
    return c.result()


def fashion_designer() -> Image:
    """Sofia: a designer, sleek black bun, red lips, bold gold earrings, studio sketches."""
    c = Canvas()
    c.vertical_gradient(rgb("#f3ede4"), rgb("#e2d6c6"))
    for x, y in ((120, 140), (900, 120), (960, 420)):
        c.fill(
            polygon([(x - 70, y - 90), (x + 70, y - 90), (x + 70, y + 110), (x - 70, y + 110)]),
            rgb("#fffdf8"),
            0.9,
        )
        dress = [
            (x - 16, y - 70),
            (x - 22, y - 40),
            (x - 10, y - 5),
            (x - 48, y + 90),
            (x + 48, y + 90),
            (x + 10, y - 5),
            (x + 22, y - 40),
            (x + 16, y - 70),
            (x - 16, y - 70),
        ]
        c.fill(stroke(dress, 2), rgb("#3a3030"), 0.7)
    look = Look(
        skin=rgb("#f0c4a4"),
        lips=rgb("#c41e3a"),
        iris=rgb("#3a2a22"),
        brow=rgb("#1a1414"),
        line=rgb("#1a1414"),
        lashes=True,
        blush=0.14,
        brow_lift=3,
    )
    hair = rgb("#17120f")
    bun = ellipse(CX + 20, 95, 80, 62)
    shaded(c, bun, hair, depth=0.35, rim=20)
    torso(c, rgb("#141414"), look.skin, line=(10, 10, 10))
    neckline = polygon([(CX - 80, 546), (CX + 80, 546), (CX, 640)])
    c.fill(neckline, look.skin)
    c.fill(
        stroke(
            curve(
                [
                    (CX - 300, 600),
                    (CX - 150, 560),
                    (CX - 40, 640),
                    (CX + 40, 640),
                    (CX + 150, 560),
                    (CX + 300, 600),
                ]
            ),
            14,
        ),
        rgb("#c41e3a"),
        0.95,
    )
    neck_and_ears(c, look)
    face(c, look)
    sleek = blob(
        [
            (CX - 158, 300),
            (CX - 155, 170),
            (CX - 70, 105),
            (CX + 70, 105),
            (CX + 155, 170),
            (CX + 158, 300),
            (CX + 145, 200),
            (CX + 60, 150),
            (CX - 60, 150),
            (CX - 145, 200),
        ]
    )
    shaded(c, sleek, hair, depth=0.3, rim=20)
    c.fill(
        soft(stroke(curve([(CX - 100, 150), (CX - 20, 118), (CX + 80, 135)]), 5), 2),
        (255, 255, 255),
        0.2,
    )
    for side in (-1, 1):
        hoop = minus(ellipse(CX + side * 150, 395, 22, 28), ellipse(CX + side * 150, 395, 16, 22))
        shaded(c, hoop, rgb("#e0b23a"), depth=0.3, rim=3)
    return c.result()


def cooking_teacher() -> Image:
    """Marco: a cook with a chef's hat, dark curls, moustache; tiled kitchen and herbs."""
    c = Canvas()
    c.vertical_gradient(rgb("#f7efe0"), rgb("#eadcc4"))
    tiles = c.mask()
    for gx in range(0, WIDTH, 64):
        cv2.line(tiles, _pt(gx, 0), _pt(gx, HEIGHT), 1.0, SS, cv2.LINE_AA)
    for gy in range(0, HEIGHT, 64):
        cv2.line(tiles, _pt(0, gy), _pt(WIDTH, gy), 1.0, SS, cv2.LINE_AA)
    c.fill(tiles, rgb("#d9c9ad"), 0.8)
    for side in (-1, 1):
        x = CX + side * 390
        pot = polygon([(x - 70, 520), (x + 70, 520), (x + 60, 640), (x - 60, 640)])
        shaded(c, pot, rgb("#c8553a"), depth=0.3, rim=20)
        for k in range(5):
            c.fill(
                ellipse(x - 40 + 20 * k, 500 - 12 * (k % 2), 16, 24, angle=20 * (k - 2)),
                rgb("#4f8f3f"),
            )
    look = Look(
        skin=rgb("#dba583"),
        lips=rgb("#a85a50"),
        iris=rgb("#4a2e1c"),
        brow=rgb("#2a1a12"),
        line=rgb("#2a1a12"),
        blush=0.2,
        face_width=1.06,
    )
    hair = rgb("#2f2018")
    torso(c, rgb("#fbfbf8"), look.skin, line=rgb("#8a8a8a"))
    for k in range(2):
        for side in (-1, 1):
            c.fill(ellipse(CX + side * 40, 600 + 45 * k, 7, 7), rgb("#8a8a8a"))
    c.fill(
        polygon([(CX - 70, 545), (CX + 70, 545), (CX + 40, 580), (CX - 40, 580)]), rgb("#d23a3a")
    )
    neck_and_ears(c, look)
    face(c, look)
    for side in (-1, 1):
        for k in range(4):
            c.fill(ellipse(CX + side * (135 + 6 * k), 200 + 28 * k, 22, 20), hair)
    moustache = blob(
        [
            (CX - 62, 372),
            (CX - 30, 356),
            (CX, 362),
            (CX + 30, 356),
            (CX + 62, 372),
            (CX + 30, 368),
            (CX, 370),
            (CX - 30, 368),
        ]
    )
    shaded(c, moustache, hair, depth=0.3, rim=4)
    hat = union(
        ellipse(CX, 105, 150, 80),
        ellipse(CX - 95, 130, 70, 60),
        ellipse(CX + 95, 130, 70, 60),
        polygon([(CX - 140, 150), (CX + 140, 150), (CX + 140, 215), (CX - 140, 215)]),
    )
    shaded(c, hat, rgb("#ffffff"), depth=0.18, rim=30)
    outline(c, hat, rgb("#9a9a9a"), 2)
    c.fill(stroke([(CX - 140, 180), (CX + 140, 180)], 2), rgb("#c8c8c8"))
    return c.result()


PORTRAITS: dict[str, Callable[[], Image]] = {
    "game-character": game_character,
    "music-superstar": music_superstar,
    "game-character-man": game_character_man,
    "cat-character": cat_character,
    "influencer": influencer,
    "tennis-coach": tennis_coach,
    "human-resource": human_resource,
    "fashion-designer": fashion_designer,
    "cooking-teacher": cooking_teacher,
}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=IMAGES_DIR)
    parser.add_argument("--only", nargs="*", help="preset ids to draw (default: all)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    cv2.setNumThreads(1)
    for preset_id, draw in PORTRAITS.items():
        if args.only and preset_id not in args.only:
            continue
        ok, png = cv2.imencode(".png", draw(), [cv2.IMWRITE_PNG_COMPRESSION, 9])
        if not ok:
            raise RuntimeError(f"PNG encoding failed for {preset_id}")
        (args.out / f"{preset_id}.png").write_bytes(png.tobytes())
    faces = {preset_id: FACE_POINTS for preset_id in PORTRAITS}
    (args.out / "faces.json").write_text(json.dumps(faces, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
