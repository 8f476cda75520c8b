"""The avatar's voice: audio and mouth placed at the same instants; a barge-in cuts both, a
retracted answer (never scheduled) touches neither."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from opencharacters.pipeline.frames import Interruption, InterruptionCause
from opencharacters.pipeline.speaker import PLAYOUT_RATE, Speaker
from opencharacters.pipeline.voice import AvatarVoice
from tests.support.pipeline import FakeFace, FakeSynthesizer
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


def voice() -> tuple[AvatarVoice, Speaker, FakeFace]:
    loop = asyncio.get_running_loop()
    speaker = Speaker(loop.time)
    face = FakeFace()
    avatar = AvatarVoice(speaker, face, "clara")
    avatar.use(FakeSynthesizer())
    return avatar, speaker, face


@virtual_time
async def test_a_sentence_is_heard_where_the_mouth_moves() -> None:
    avatar, _, face = voice()
    segments = [segment async for segment in avatar.segments("three short words")]
    # Resampled to the playout rate as one stream: the filter's last samples come as a tail.
    assert sum(len(samples) for samples, _ in segments) == round(0.3 * PLAYOUT_RATE)
    assert len(segments[-1][0]) < 0.002 * PLAYOUT_RATE <= len(segments[0][0])
    start, end = avatar.schedule(segments[0])
    (pushed,) = face.pushed
    assert pushed.timestamp_s == start and pushed.sample_rate == PLAYOUT_RATE
    for segment in segments[1:]:
        piece_start, end = avatar.schedule(segment)
        assert piece_start == pytest.approx(face.pushed[-1].timestamp_s)
    assert end - start == pytest.approx(0.3)
    second, _ = avatar.schedule(segments[0])
    assert second == pytest.approx(end), "each piece right after the one before"
    assert avatar.queued_until_s == pytest.approx(end + len(segments[0][0]) / PLAYOUT_RATE)


@virtual_time
async def test_barge_in_silences_voice_and_mouth_and_retraction_does_not() -> None:
    avatar, speaker, face = voice()
    for segment in [s async for s in avatar.segments("one two three four five")]:
        avatar.schedule(segment)
    avatar.interrupt(Interruption(InterruptionCause.RETRACTED, 1, 0.0, ""))
    assert speaker.speaking() and face.interrupts == 0
    speaker.read(0)  # the first 20 ms went out
    avatar.interrupt(Interruption(InterruptionCause.BARGE_IN, 1, 0.02, "", 0.0, 0.02))
    assert not speaker.speaking() and face.interrupts == 1
    tail = speaker.read(960, 960 * 3)
    assert np.abs(tail[240:]).max() == 0, "5 ms of fade, then silence"
