"""Once per avatar: find the face, crop the output frame around it, and record what it looks like.

Everything the renderer needs is stored in `FaceRig`, which round-trips through JSON so it can be
kept with the avatar. Geometry is in output-frame pixels; the face frame is measured in units of
the eye-to-eye distance ("span"), with u along the eyes and v downwards from between the eyes."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import cv2
import numpy as np

from opencharacters.animation.landmarks import FacePoints, Image, detect_face_points

OUTPUT_SIZE = (1088, 704)
"""Width by height of rendered frames."""
_SPAN_FRACTION_OF_HEIGHT = 0.2
"""Eye-to-eye distance as a share of the output height: a head-and-shoulders framing."""
RIG_VERSION = 1


@dataclass(frozen=True, slots=True)
class FaceGeometry:
    """The face frame in output pixels."""

    origin: tuple[float, float]  # between the eyes
    span: float  # eye-to-eye distance, px
    angle: float  # radians, eye line against the horizontal
    mouth_v: float  # mouth line, in spans below the eyes
    mouth_half_width: float  # in spans
    mouth_u: float  # mouth centre across, in spans
    mouth_gap: float = 0.0  # lips already apart in the reference image, in spans
    eye_half_height: float = 0.075  # half the lid opening, in spans
    upper_lip_above_seam: float = 0.0  # inner edge of the upper lip above the cut, spans
    lower_lip_below_seam: float = 0.0  # inner edge of the lower lip below the cut, spans
    seam_curve: float = 0.0  # the cut rises this much towards the mouth corners, spans

    def to_pixels(
        self, u: np.ndarray[Any, Any], v: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        x = self.origin[0] + self.span * (u * cos - v * sin)
        y = self.origin[1] + self.span * (u * sin + v * cos)
        return x, y

    def to_face(
        self, x: np.ndarray[Any, Any], y: np.ndarray[Any, Any]
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        cos, sin = np.cos(self.angle), np.sin(self.angle)
        dx = (x - self.origin[0]) / self.span
        dy = (y - self.origin[1]) / self.span
        return dx * cos + dy * sin, -dx * sin + dy * cos

    def roi(self, width: int, height: int) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of the only region the renderer ever changes (head plus margin)."""
        s, (cx, cy) = self.span, self.origin
        x0, x1 = int(cx - 1.9 * s), int(cx + 1.9 * s)
        y0, y1 = int(cy - 1.9 * s), int(cy + (self.mouth_v + 1.6) * s)
        return max(0, x0), max(0, y0), min(width, x1), min(height, y1)


@dataclass(frozen=True, slots=True)
class Appearance:
    mouth_open: bool
    teeth_visible: bool
    smiling: bool
    lip_bgr: tuple[float, float, float]
    skin_bgr: tuple[float, float, float]
    light: float
    """Skin brightness near the mouth, 0..1: the synthetic mouth interior is lit to match."""


@dataclass(frozen=True, slots=True)
class FaceRig:
    version: int
    image_jpeg: bytes
    """The output-size reference frame (already cropped and scaled)."""
    geometry: FaceGeometry
    appearance: Appearance
    landmark_source: str

    @property
    def size(self) -> tuple[int, int]:
        image = self.image()
        return image.shape[1], image.shape[0]

    def image(self) -> Image:
        decoded = cv2.imdecode(np.frombuffer(self.image_jpeg, np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError("FaceRig holds an undecodable image")
        return decoded

    def to_json(self) -> str:
        data = asdict(self)
        data["image_jpeg"] = base64.b64encode(self.image_jpeg).decode("ascii")
        return json.dumps(data)

    def to_bytes(self) -> bytes:
        return self.to_json().encode("utf-8")

    @classmethod
    def from_json(cls, text: str | bytes) -> FaceRig:
        data = json.loads(text)
        if data.get("version") != RIG_VERSION:
            raise ValueError(f"FaceRig version {data.get('version')} is not {RIG_VERSION}")
        geometry = data["geometry"]
        appearance = data["appearance"]
        return cls(
            version=RIG_VERSION,
            image_jpeg=base64.b64decode(data["image_jpeg"]),
            geometry=FaceGeometry(**{**geometry, "origin": tuple(geometry["origin"])}),
            appearance=Appearance(
                **{
                    **appearance,
                    "lip_bgr": tuple(appearance["lip_bgr"]),
                    "skin_bgr": tuple(appearance["skin_bgr"]),
                }
            ),
            landmark_source=data["landmark_source"],
        )


def prepare(
    image: Image | bytes,
    face_points: Mapping[str, Sequence[float]] | None = None,
    output_size: tuple[int, int] = OUTPUT_SIZE,
) -> FaceRig:
    """Analyse one reference image (BGR array or encoded bytes).

    face_points, optional: {"left_eye": [x, y], "right_eye": [x, y], "mouth_left": [x, y],
    "mouth_right": [x, y]} in source-image pixels; required when no face can be detected.
    Raises NoFaceError when there is neither."""
    source = _decode(image) if isinstance(image, bytes) else image
    points = (
        FacePoints.from_mapping(face_points)
        if face_points is not None
        else detect_face_points(source)
    )
    framed, transform = _frame(source, points, output_size)
    geometry = _geometry(points, transform)
    appearance = _appearance(framed, geometry)
    gap = geometry.mouth_gap
    if appearance.teeth_visible:
        # Cut along the upper teeth's biting edge so the photo's own upper teeth stay put
        # and only the lower lip and teeth follow the jaw. A smile's teeth edge is an arc,
        # so the cut is one too: a straight cut leaves a ruler-straight line under the teeth.
        centre, curve = _teeth_edge(framed, geometry)
        geometry = replace(
            geometry,
            mouth_v=centre,
            seam_curve=curve,
            lower_lip_below_seam=max(0.0, geometry.mouth_v + 0.5 * gap - centre),
        )
    else:
        geometry = replace(geometry, upper_lip_above_seam=0.5 * gap, lower_lip_below_seam=0.5 * gap)
    return FaceRig(
        version=RIG_VERSION,
        image_jpeg=_encode_jpeg(framed),
        geometry=geometry,
        appearance=appearance,
        landmark_source=points.source,
    )


def _decode(data: bytes) -> Image:
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("not a decodable image")
    return decoded


def _encode_jpeg(image: Image) -> bytes:
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 93])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buffer.tobytes()


def _frame(
    source: Image, points: FacePoints, output_size: tuple[int, int]
) -> tuple[Image, np.ndarray[Any, Any]]:
    """Scale and translate so the face sits centred; edges beyond the image are replicated."""
    width, height = output_size
    eyes = (np.array(points.left_eye) + np.array(points.right_eye)) / 2
    mouth = (np.array(points.mouth_left) + np.array(points.mouth_right)) / 2
    span = float(np.hypot(*(np.array(points.right_eye) - np.array(points.left_eye))))
    wanted = _SPAN_FRACTION_OF_HEIGHT * height / span
    # Never leave the frame emptier than the picture allows: cover the output if the image can.
    cover = max(width / source.shape[1], height / source.shape[0])
    scale = min(wanted, max(cover, wanted * 0.6))
    centre = eyes * 0.55 + mouth * 0.45
    # Zoom in a little more if that lets the face be centred without running off the image
    # (an off-centre face in a wide picture), but never more than 1.6x the framing asked for.
    room_x = min(centre[0], source.shape[1] - centre[0])
    room_y = min(centre[1] / 0.47, (source.shape[0] - centre[1]) / 0.53)
    centring = max(width / 2 / max(room_x, 1.0), height / max(room_y, 1.0))
    if scale < centring <= 1.6 * wanted:
        scale = centring
    tx = width / 2 - scale * centre[0]
    ty = height * 0.47 - scale * centre[1]
    # Keep the image covering the frame where it can, so replicated edges are rare.
    tx = (
        float(np.clip(tx, width - scale * source.shape[1], 0.0))
        if scale * source.shape[1] >= width
        else tx
    )
    ty = (
        float(np.clip(ty, height - scale * source.shape[0], 0.0))
        if scale * source.shape[0] >= height
        else ty
    )
    transform = np.array([[scale, 0.0, tx], [0.0, scale, ty]])
    framed = cv2.warpAffine(
        source, transform, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return framed, transform


def _geometry(points: FacePoints, transform: np.ndarray[Any, Any]) -> FaceGeometry:
    def mapped(point: tuple[float, float]) -> np.ndarray[Any, Any]:
        return np.asarray(transform @ np.array([point[0], point[1], 1.0]))

    left, right = mapped(points.left_eye), mapped(points.right_eye)
    mouth_l, mouth_r = mapped(points.mouth_left), mapped(points.mouth_right)
    origin = (left + right) / 2
    axis = right - left
    span = float(np.hypot(*axis))
    angle = float(np.arctan2(axis[1], axis[0]))
    partial = FaceGeometry((float(origin[0]), float(origin[1])), span, angle, 1.0, 0.4, 0.0)
    mouth_centre = (mouth_l + mouth_r) / 2
    gap = 0.0
    if points.lip_upper_inner is not None and points.lip_lower_inner is not None:
        # The seam is where the lips part, which is not always on the corners' line.
        upper, lower = mapped(points.lip_upper_inner), mapped(points.lip_lower_inner)
        mouth_centre = np.array([mouth_centre[0], (upper[1] + lower[1]) / 2])
        gap = float(np.hypot(*(lower - upper))) / span
    mu, mv = partial.to_face(np.array(mouth_centre[0]), np.array(mouth_centre[1]))
    half = float(np.hypot(*(mouth_r - mouth_l))) / 2 / span
    return FaceGeometry(
        origin=partial.origin,
        span=span,
        angle=angle,
        mouth_v=float(mv),
        mouth_half_width=float(np.clip(half, 0.25, 0.7)),
        mouth_u=float(mu),
        mouth_gap=gap if gap > 0.015 else 0.0,
        eye_half_height=(
            float(np.clip(points.eye_opening * transform[0, 0] / span / 2, 0.03, 0.12))
            if points.eye_opening is not None
            else 0.075
        ),
    )


def _appearance(image: Image, geometry: FaceGeometry) -> Appearance:
    def sample(u0: float, u1: float, v0: float, v1: float) -> np.ndarray[Any, Any]:
        us, vs = np.meshgrid(np.linspace(u0, u1, 12), np.linspace(v0, v1, 6))
        x, y = geometry.to_pixels(us, vs)
        xi = np.clip(x.round().astype(int), 0, image.shape[1] - 1)
        yi = np.clip(y.round().astype(int), 0, image.shape[0] - 1)
        return np.asarray(image[yi, xi].reshape(-1, 3).astype(np.float64))

    mu, mv, half = geometry.mouth_u, geometry.mouth_v, geometry.mouth_half_width
    skin = np.median(sample(-0.55, 0.55, 0.35, 0.55), axis=0)  # cheeks under the eyes
    lips = np.median(sample(mu - half * 0.6, mu + half * 0.6, mv - 0.08, mv + 0.08), axis=0)
    seam = sample(mu - half * 0.5, mu + half * 0.5, mv - 0.03, mv + 0.03)
    seam_luma = seam @ np.array([0.114, 0.587, 0.299])
    skin_luma = float(skin @ np.array([0.114, 0.587, 0.299]))
    dark = float(np.mean(seam_luma < 0.35 * skin_luma))
    bright = float(np.mean((seam_luma > 0.9 * skin_luma) & (np.ptp(seam, axis=1) < 40)))
    corners_v = mv - 0.0  # corners relative to the centre line: a smile lifts them
    del corners_v
    smiling = _smile_cascade_says(image, geometry)
    return Appearance(
        mouth_open=dark > 0.25 or geometry.mouth_gap > 0.04,
        teeth_visible=bright > 0.25,
        smiling=smiling,
        lip_bgr=(float(lips[0]), float(lips[1]), float(lips[2])),
        skin_bgr=(float(skin[0]), float(skin[1]), float(skin[2])),
        light=float(np.clip(skin_luma / 255.0, 0.05, 1.0)),
    )


def _teeth_edge(image: Image, geometry: FaceGeometry) -> tuple[float, float]:
    """Where the cut under the photo's upper teeth goes: (v at the middle, rise at the ends).

    Per column across the mouth, the lowest tooth-coloured pixel (bright, unsaturated) between
    the lips; then a parabola v = centre - curve * t**2 fitted to those, t = -1..1 corner to
    corner of the opening. Falls back to a straight cut a little below the lips' middle."""
    mu, mv, gap = geometry.mouth_u, geometry.mouth_v, geometry.mouth_gap
    fallback = (mv + 0.15 * gap, 0.0)
    half = 0.82 * geometry.mouth_half_width  # fields.OPENING_WIDTH; rig cannot import fields
    t = np.linspace(-0.85, 0.85, 35)
    vs = np.linspace(mv - 0.5 * gap, mv + 0.5 * gap, 60)
    us, vv = np.meshgrid(mu + half * t, vs)
    x, y = geometry.to_pixels(us, vv)
    pixels = cv2.remap(image, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR).astype(
        np.float64
    )
    luma = pixels @ np.array([0.114, 0.587, 0.299])
    reference = float(np.percentile(luma, 90))
    tooth = (luma > 0.75 * reference) & (np.ptp(pixels, axis=2) < 0.2 * luma)
    found = tooth.any(axis=0)
    if found.sum() < 12:
        return fallback
    lowest = len(vs) - 1 - np.argmax(tooth[::-1], axis=0)
    edge_v = vs[lowest][found]
    design = np.stack([np.ones(int(found.sum())), -(t[found] ** 2)], axis=1)
    keep = np.ones(len(edge_v), bool)
    for _ in range(2):  # refit without the columns the first fit explains worst (a dark gap)
        coef = np.linalg.lstsq(design[keep], edge_v[keep], rcond=None)[0]
        error = np.abs(design @ coef - edge_v)
        keep = error <= max(float(np.percentile(error, 75)), 0.01 * gap)
    centre, curve = float(coef[0]), float(coef[1])
    # A small margin below the teeth so no white fringe rides down with the jaw.
    return centre + 0.03 * gap, float(np.clip(curve, 0.0, 1.5 * gap))


def visible_teeth_height(image: Image, geometry: FaceGeometry) -> float | None:
    """How far the photo's upper teeth reach above the cut in the middle of the mouth (spans).

    Per column near the middle, the run of tooth-coloured pixels (bright, unsaturated) going up
    from the cut; the median over the columns. None when too few columns show teeth. Used by
    the renderer (from the stored image, so existing rigs benefit) in place of the inner-lip
    landmarks, which sit too high on a smile."""
    mu, gap = geometry.mouth_u, geometry.mouth_gap
    if gap <= 0.0:
        return None
    half = 0.82 * geometry.mouth_half_width
    t = np.linspace(-0.45, 0.45, 19)
    seam = geometry.mouth_v - geometry.seam_curve * t * t
    rows = 80
    depth = np.linspace(0.0, 1.5 * gap, rows)  # upwards from the cut
    us = np.broadcast_to(mu + half * t, (rows, len(t)))
    vs = seam[None, :] - depth[:, None] - 0.01
    x, y = geometry.to_pixels(us, vs)
    pixels = cv2.remap(image, x.astype(np.float32), y.astype(np.float32), cv2.INTER_LINEAR).astype(
        np.float64
    )
    luma = pixels @ np.array([0.114, 0.587, 0.299])
    reference = float(np.percentile(luma[: rows // 3], 90))
    tooth = (luma > 0.75 * reference) & (np.ptp(pixels, axis=2) < 0.18 * luma)
    # Bridge single-row gaps (the line between two teeth rows, JPEG noise), then measure the
    # run that starts near the cut (within a fifth of the search: the cut is an arc fit).
    bridged = tooth.copy()
    bridged[1:-1] |= tooth[:-2] & tooth[2:]
    start = np.argmax(bridged[: rows // 5], axis=0)
    tops = []
    for column, first in enumerate(start):
        if not bridged[first, column]:
            continue
        ends = np.nonzero(~bridged[first:, column])[0]
        top = first + (int(ends[0]) if len(ends) else rows - first) - 1
        if top - first >= 3:
            tops.append(depth[top])
    if len(tops) < len(t) // 3:
        return None
    return float(np.median(tops)) + 0.01


def _smile_cascade_says(image: Image, geometry: FaceGeometry) -> bool:
    x0, y0, x1, y1 = geometry.roi(image.shape[1], image.shape[0])
    s = geometry.span
    cy = int(geometry.origin[1] + geometry.mouth_v * s)
    top, bottom = max(y0, int(cy - 0.5 * s)), min(y1, int(cy + 0.6 * s))
    gray = cv2.cvtColor(image[top:bottom, x0:x1], cv2.COLOR_BGR2GRAY)
    if gray.size == 0:
        return False
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_smile.xml")  # type: ignore[attr-defined]
    found = cascade.detectMultiScale(
        gray, scaleFactor=1.1, minNeighbors=25, minSize=(int(0.5 * s), int(0.2 * s))
    )
    return len(found) > 0
