from __future__ import annotations

import numpy as np
import pytest

from opencharacters.pipeline.speaker import FRAME_SAMPLES, PLAYOUT_RATE, Speaker

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def tone(seconds: float, rate: int = PLAYOUT_RATE) -> np.ndarray:
    n = round(seconds * rate)
    return (0.5 * np.sin(2 * np.pi * 220 * np.arange(n) / rate)).astype(np.float32)


def test_speech_is_placed_after_a_lead_then_back_to_back() -> None:
    clock = Clock()
    speaker = Speaker(clock, lead_s=0.1)
    start, end = speaker.schedule(tone(0.5), PLAYOUT_RATE)
    assert start == 0.1 and abs(end - 0.6) < 1e-9
    second = speaker.schedule(tone(0.25), PLAYOUT_RATE)
    assert second == (end, end + 0.25)
    assert speaker.queued_until_s == second[1]


def test_read_returns_exactly_what_was_scheduled_at_its_time() -> None:
    clock = Clock()
    speaker = Speaker(clock, lead_s=0.0)
    sound = tone(0.1)
    speaker.schedule(sound, PLAYOUT_RATE)
    out = np.concatenate([speaker.read(i * FRAME_SAMPLES) for i in range(6)])
    assert np.allclose(out[: len(sound)], sound)
    assert not out[len(sound) :].any()
    assert not speaker.speaking()


def test_other_rates_are_resampled_to_the_same_duration() -> None:
    speaker = Speaker(Clock(), lead_s=0.0)
    start, end = speaker.schedule(tone(1.0, 22050), 22050)
    assert abs((end - start) - 1.0) < 1e-3


def test_clear_cuts_at_the_playout_position_with_a_short_fade() -> None:
    clock = Clock()
    speaker = Speaker(clock, lead_s=0.0)
    speaker.schedule(tone(1.0), PLAYOUT_RATE)
    speaker.schedule(tone(1.0), PLAYOUT_RATE)
    for i in range(10):  # 200 ms heard
        speaker.read(i * FRAME_SAMPLES)
    cut = speaker.clear()
    assert abs(cut - 0.2) < 1e-9
    after = np.concatenate([speaker.read((10 + i) * FRAME_SAMPLES) for i in range(5)])
    fade = after[:240]
    assert np.abs(fade[-20:]).max() < np.abs(fade[:40]).max() or np.abs(fade).max() < 0.05
    assert not after[240:].any(), "nothing queued after the cut may still play"
    assert not speaker.speaking()


def test_scheduling_after_an_idle_gap_starts_from_now() -> None:
    clock = Clock()
    speaker = Speaker(clock, lead_s=0.05)
    speaker.schedule(tone(0.1), PLAYOUT_RATE)
    clock.t = 5.0
    start, _ = speaker.schedule(tone(0.1), PLAYOUT_RATE)
    assert abs(start - 5.05) < 1e-9
