from __future__ import annotations

import itertools

import numpy as np
import pytest

from opencharacters.animation.params import NEUTRAL, PARAM_NAMES, RANGES, FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig

pytestmark = pytest.mark.unit


def test_neutral_frame_is_the_reference(rig: FaceRig) -> None:
    renderer = Renderer(rig)
    frame = renderer.render(NEUTRAL)
    assert frame.shape == (352, 544, 3)
    assert np.abs(frame.astype(int) - rig.image().astype(int)).max() <= 1


def test_parameter_extremes_stay_inside_the_face_region(rig: FaceRig) -> None:
    renderer = Renderer(rig)
    reference = rig.image()
    x0, y0, x1, y1 = renderer.roi
    outside = np.ones(reference.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    for name in PARAM_NAMES:
        for value in RANGES[name]:
            frame = renderer.render(FaceParams(**{name: value}))
            assert np.array_equal(frame[outside], reference[outside]), name
    mouth = PARAM_NAMES[:4]
    for values in itertools.product(*(RANGES[n] for n in mouth)):
        extreme = dict(zip(mouth, values, strict=True))
        frame = renderer.render(FaceParams(**extreme, blink=1.0, yaw=1.0, roll=-1.0, pitch=1.0))
        assert np.array_equal(frame[outside], reference[outside])


def test_jaw_opens_a_dark_mouth(rig: FaceRig) -> None:
    renderer = Renderer(rig)
    x0, y0, x1, y1 = renderer.mouth_box()
    closed = renderer.render(NEUTRAL)[y0:y1, x0:x1].mean()
    opened = renderer.render(FaceParams(jaw=1.0))[y0:y1, x0:x1].mean()
    assert opened < closed * 0.85


def test_blink_darkens_neither_more_nor_less_than_a_lid(rig: FaceRig) -> None:
    renderer = Renderer(rig)
    shut = renderer.render(FaceParams(blink=1.0))
    neutral = renderer.render(NEUTRAL)
    changed = np.abs(shut.astype(int) - neutral.astype(int)).sum(axis=2) > 30
    g = rig.geometry
    ys, xs = np.nonzero(changed)
    assert len(xs) > 0
    # Only the eye regions change: nothing below the nose, nothing far above the brows.
    assert ys.max() < g.origin[1] + 0.3 * g.span
    assert ys.min() > g.origin[1] - 0.5 * g.span


def test_rounding_narrows_the_opening_and_spreading_widens_it(rig: FaceRig) -> None:
    renderer = Renderer(rig)

    def width(**params: float) -> float:
        shape = renderer.mouth_shape(FaceParams(jaw=0.5, **params))
        return float(np.ptp(shape.upper_edge[:, 0]))

    plain = width()
    assert width(round=1.0) < 0.8 * plain
    assert width(spread=1.0) > 1.1 * plain


def test_cut_follows_the_arc_of_a_smiles_teeth(rig: FaceRig) -> None:
    # The astronaut smiles with her upper teeth showing; their edge rises towards the corners.
    assert rig.appearance.teeth_visible
    assert rig.geometry.seam_curve > 0.02
    shape = Renderer(rig).mouth_shape(FaceParams(jaw=1.0))
    middle = shape.upper_edge[len(shape.upper_edge) // 2, 1]
    assert shape.upper_edge[0, 1] < middle - 0.02 * rig.geometry.span
