"""The mouth and head moves that make the face believable: lip lift, closure, a jaw that does
not smear the lower lip, rest after speech and after barge-in, head turns by depth."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from opencharacters.animation.fields import displacement
from opencharacters.animation.params import NEUTRAL, FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
from opencharacters.animation.sync import syllables
from opencharacters.media.audio import AudioChunk

pytestmark = pytest.mark.unit


def _column(frame: np.ndarray, x: int, y0: int, y1: int) -> np.ndarray:
    return np.asarray(frame[y0:y1, x].astype(np.float64).mean(axis=1))


def _shift(before: np.ndarray, after: np.ndarray, search: int) -> int:
    """Vertical shift (px, negative = up) that best maps `before`'s middle onto `after`."""
    core = before[search:-search]
    errors = [
        float(np.mean((after[search + s : len(after) - search + s] - core) ** 2))
        for s in range(-search, search + 1)
    ]
    return int(np.argmin(errors)) - search


def _mouth_centre(rig: FaceRig) -> tuple[int, int]:
    g = rig.geometry
    x, y = g.to_pixels(np.array(g.mouth_u), np.array(g.mouth_v))
    return round(float(x)), round(float(y))


def test_upper_lift_raises_the_upper_lip_of_a_closed_mouth(cartoon_rig: FaceRig) -> None:
    renderer = Renderer(cartoon_rig)
    rest = renderer.mouth_shape(NEUTRAL).upper_edge
    lifted = renderer.mouth_shape(FaceParams(upper_lift=1.0)).upper_edge
    middle = len(rest) // 2
    span = cartoon_rig.geometry.span
    assert rest[middle, 1] - lifted[middle, 1] > 0.05 * span
    # The lip itself moves up in the picture, not just the painted opening's edge.
    x, y = _mouth_centre(cartoon_rig)
    top, bottom = y - int(0.35 * span), y + int(0.05 * span)
    neutral = _column(renderer.render(NEUTRAL), x, top, bottom)
    raised = _column(renderer.render(FaceParams(upper_lift=1.0)), x, top, bottom)
    assert _shift(neutral, raised, int(0.1 * span)) <= -int(0.04 * span)


def test_upper_lift_moves_a_smiles_lip_but_not_its_teeth(rig: FaceRig) -> None:
    # The astronaut smiles with her upper teeth showing: the lip goes up, the biting edge stays.
    renderer = Renderer(rig)
    span = rig.geometry.span
    x, y = _mouth_centre(rig)
    neutral = renderer.render(NEUTRAL)
    lifted = renderer.render(FaceParams(upper_lift=1.0))
    lip = slice(y - int(0.3 * span), y - int(0.1 * span))
    search = max(2, int(0.06 * span))
    rows = slice(lip.start - search, lip.stop + search)
    assert (
        _shift(
            _column(neutral, x, rows.start, rows.stop),
            _column(lifted, x, rows.start, rows.stop),
            search,
        )
        < 0
    )
    shape = renderer.mouth_shape(FaceParams(upper_lift=1.0))
    rest = renderer.mouth_shape(NEUTRAL)
    assert np.abs(shape.upper_edge - rest.upper_edge).max() < 0.5  # the teeth's edge


def test_closure_hides_a_smiles_teeth(rig: FaceRig) -> None:
    renderer = Renderer(rig)
    span = rig.geometry.span
    x, y = _mouth_centre(rig)
    # Where the photo shows its upper teeth: just above their biting edge (the cut).
    band = (
        slice(y - int(0.09 * span), y - int(0.02 * span)),
        slice(x - int(0.25 * span), x + int(0.25 * span)),
    )

    def redness(frame: np.ndarray) -> float:
        patch = frame[band].astype(np.float64)
        return float(np.mean(patch[..., 2] - patch[..., 1]))  # lips are red, teeth are not

    teeth = redness(renderer.render(NEUTRAL))
    closed = redness(renderer.render(FaceParams(close=1.0)))
    lip = rig.appearance.lip_bgr[2] - rig.appearance.lip_bgr[1]
    assert teeth < 0.6 * lip
    assert closed > teeth + 0.5 * (lip - teeth), (teeth, closed, lip)
    # The painted opening is gone too.
    shape = renderer.mouth_shape(FaceParams(close=1.0))
    assert (shape.lower_edge[:, 1] - shape.upper_edge[:, 1]).max() <= 0.0


def test_jaw_keeps_the_lower_lips_thickness(cartoon_rig: FaceRig) -> None:
    renderer = Renderer(cartoon_rig)
    reference = cartoon_rig.image()
    skin = np.array(cartoon_rig.appearance.skin_bgr)
    lips = np.array(cartoon_rig.appearance.lip_bgr)
    x, _ = _mouth_centre(cartoon_rig)
    span = cartoon_rig.geometry.span

    def lower_lip_rows(frame: np.ndarray, params: FaceParams, column: int) -> int:
        # From the opening's lower edge (the lip's inner edge) down: lip-coloured rows.
        edge = renderer.mouth_shape(params).lower_edge
        start = int(np.ceil(np.interp(column, edge[:, 0], edge[:, 1])))
        pixels = frame[start : start + int(0.5 * span), column].astype(np.float64)
        closer_to_lip = np.linalg.norm(pixels - lips, axis=1) < np.linalg.norm(
            pixels - skin, axis=1
        )
        return int(closer_to_lip.sum())

    jaw = FaceParams(jaw=1.0)
    opened = renderer.render(jaw)
    for dx in (0, int(0.15 * span)):
        before = lower_lip_rows(reference, NEUTRAL, x + dx)
        after = lower_lip_rows(opened, jaw, x + dx)
        assert before > 3
        assert after <= before * 1.3 + 2, (dx, before, after)


def test_mouth_parameter_extremes_stay_inside_the_face(rig: FaceRig, cartoon_rig: FaceRig) -> None:
    names = ("jaw", "round", "spread", "close", "upper_lift", "smile")
    for face in (rig, cartoon_rig):
        renderer = Renderer(face)
        reference = face.image()
        x0, y0, x1, y1 = renderer.roi
        outside = np.ones(reference.shape[:2], bool)
        outside[y0:y1, x0:x1] = False
        g = face.geometry
        # Nothing mouth-related moves above the eyes or far below the chin.
        above = np.zeros(reference.shape[:2], bool)
        above[: max(0, int(g.origin[1] - 0.2 * g.span))] = True
        for values in itertools.product((0.0, 1.0), repeat=len(names)):
            params = FaceParams(**dict(zip(names, values, strict=True)))
            frame = renderer.render(params)
            assert frame.shape == reference.shape and frame.dtype == np.uint8
            assert np.array_equal(frame[outside], reference[outside]), params
            assert np.array_equal(frame[above], reference[above]), params


def test_mouth_is_at_rest_after_speech_and_after_interrupt(rig: FaceRig) -> None:
    rate = 16000
    speech = syllables(1.0, rate, rate_hz=2.0)
    # A breath-level noise tail (about -30 dB) after the words: still not speech.
    tail = (
        np.random.default_rng(1).standard_normal(rate).astype(np.float32)
        * 0.03
        * float(np.abs(speech).max())
    )
    animator = FaceAnimator(rig, idle=False)
    animator.push_audio(AudioChunk(np.concatenate([speech, tail]), rate, 0.0))
    frames = list(animator.frames_for(2.6))
    assert max(f.params.jaw for f in frames) > 0.3
    reference = animator.renderer.render(NEUTRAL)
    for frame in frames[round(1.2 * 25) :]:
        assert frame.params == NEUTRAL, frame.index
        assert np.array_equal(frame.image, reference)

    # Barge-in at the loudest point, with idle motion on: two frames later the mouth is the
    # idle face's own, and it stays there.
    animator = FaceAnimator(rig, idle=True)
    animator.push_audio(AudioChunk(syllables(3.0, rate, rate_hz=1.0), rate, 0.0))
    opened = [animator.next_frame() for _ in range(10)]
    assert max(f.params.jaw for f in opened) > 0.3
    animator.interrupt()
    after = [animator.next_frame() for _ in range(12)]
    idle_only = FaceAnimator(rig, idle=True)
    for frame in after[1:]:
        expected = idle_only.params_at(frame.index)
        for name in ("jaw", "round", "spread", "close", "upper_lift"):
            assert getattr(frame.params, name) == 0.0, (frame.index, name)
        assert frame.params == expected
        assert np.array_equal(frame.image, animator.renderer.render(expected))


def test_head_turn_moves_the_nose_more_than_the_outline(rig: FaceRig) -> None:
    g = rig.geometry
    u = np.array([0.0, 0.0, -1.15, 1.15, -0.9, 0.9])
    v = np.array([0.55, 0.3, 0.4, 0.4, 1.3, 1.3])
    below = np.zeros(u.shape, bool)
    du, dv = displacement("yaw", g, u, v, below)
    nose, middle, outline = du[0], du[1], du[2:]
    assert nose > middle > 0
    assert np.all(outline < 0.5 * nose)
    assert np.all(dv == 0)
    # Rendered: the nose region shifts sideways by more than the hair's edge does.
    renderer = Renderer(rig)
    neutral = cv2.cvtColor(renderer.render(NEUTRAL), cv2.COLOR_BGR2GRAY).astype(np.float32)
    turned = cv2.cvtColor(renderer.render(FaceParams(yaw=1.0)), cv2.COLOR_BGR2GRAY).astype(
        np.float32
    )

    def shift_at(uu: float, vv: float) -> int:
        x, y = g.to_pixels(np.array(uu), np.array(vv))
        x, y = round(float(x)), round(float(y))
        half, search = int(0.25 * g.span), int(0.12 * g.span)
        rows = slice(y - 2, y + 3)
        cols = slice(x - half - search, x + half + search)
        return _shift(neutral[rows, cols].mean(axis=0), turned[rows, cols].mean(axis=0), search)

    nose_shift = shift_at(0.0, 0.55)
    edge_shift = shift_at(-1.25, -0.3)  # the hair's outline against the background
    assert nose_shift >= 0.09 * g.span
    assert abs(edge_shift) <= 0.5 * nose_shift, (nose_shift, edge_shift)
