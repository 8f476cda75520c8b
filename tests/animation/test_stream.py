from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import numpy as np
import pytest

from opencharacters.animation.drive import track_from_phonemes
from opencharacters.animation.params import NEUTRAL, FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator, VideoFrame
from opencharacters.animation.sync import av_offset_s, mouth_opening, speech_envelope, syllables
from opencharacters.media.audio import AudioChunk
from opencharacters.speech.tts import PhonemeTiming

pytestmark = pytest.mark.unit


def test_frame_count_and_timestamps_are_exact(rig: FaceRig) -> None:
    animator = FaceAnimator(rig, start_s=10.0)
    audio = AudioChunk(syllables(1.234, 22050), 22050, 10.0)
    animator.push_audio(audio)
    frames = list(animator.frames_for(audio.duration_s))
    assert len(frames) == round(1.234 * 25)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(abs(f.timestamp_s - (10.0 + f.index / 25)) < 1e-9 for f in frames)


def test_interrupt_returns_to_neutral_within_two_frames(rig: FaceRig) -> None:
    animator = FaceAnimator(rig, idle=False)
    loud = AudioChunk(syllables(3.0, 16000, rate_hz=1.0), 16000, 0.0)
    animator.push_audio(loud)
    frames = [animator.next_frame() for _ in range(8)]
    assert max(f.params.jaw for f in frames) > 0.3
    animator.interrupt()
    after = [animator.next_frame() for _ in range(3)]
    assert after[1].params == NEUTRAL
    assert np.array_equal(after[1].image, animator.renderer.render(NEUTRAL))


def test_idle_face_is_never_frozen(rig: FaceRig) -> None:
    animator = FaceAnimator(rig)
    params = [animator.params_at(n) for n in range(0, 250, 5)]
    assert len({(p.yaw, p.pitch) for p in params}) > 40
    assert any(p.blink > 0.5 for p in (animator.params_at(n) for n in range(250)))


def test_phoneme_timings_drive_visemes_with_anticipation() -> None:
    timings = [
        PhonemeTiming("m", "PP", 0.0, 0.1),
        PhonemeTiming("a", "aa", 0.1, 0.4),
        PhonemeTiming("u", "ou", 0.4, 0.7),
    ]
    track = track_from_phonemes(timings, 0.8)
    assert track.at(0.05).close > 0.8
    assert track.at(0.25).jaw > 0.7
    assert track.at(0.55).round > 0.8
    # The vowel is already forming before its sound starts.
    assert track.at(0.08).jaw > 0.1


def test_audio_and_video_line_up_within_40_ms(rig: FaceRig) -> None:
    rate, fps = 16000, 25
    samples = syllables(4.0, rate)
    animator = FaceAnimator(rig, idle=False)
    animator.push_audio(AudioChunk(samples, rate, 0.0))
    frames = [f.image for f in animator.frames_for(4.0)]
    video = mouth_opening(frames, animator.renderer.mouth_box(), rig.image())
    audio = speech_envelope(samples, rate, fps, len(frames))
    assert abs(av_offset_s(video, audio, fps)) <= 0.040


async def test_stream_paces_on_the_clock_and_skips_when_behind(rig: FaceRig) -> None:
    animator = FaceAnimator(rig, idle=False)
    now = [0.0]
    indices = []
    async for frame in animator.stream(lambda: now[0]):
        indices.append(frame.index)
        now[0] = frame.timestamp_s + (0.2 if frame.index == 2 else 0.04)
        if len(indices) == 5:
            break
    # Frame 2 "took" 200 ms: the stream jumps to the frame due now instead of bursting.
    assert indices == [0, 1, 2, 7, 8]


class _CountingRenderer:
    """The rig's renderer, counting the pictures made of each set of parameters."""

    def __init__(self, rig: FaceRig) -> None:
        self._renderer = Renderer(rig)
        self.rendered: list[FaceParams] = []
        self.done = threading.Event()

    def render(self, params: FaceParams) -> np.ndarray:
        image = self._renderer.render(params)
        self.rendered.append(params)
        self.done.set()
        return image


async def _frame_waiting_for_its_time(
    animator: FaceAnimator, frames: AsyncIterator[VideoFrame], renderer: _CountingRenderer
) -> asyncio.Task[VideoFrame]:
    """Asks for the next frame while the clock stands before its time: it is rendered, then
    waits (it cannot be handed out until the test moves the clock)."""
    renderer.done.clear()
    task = asyncio.ensure_future(anext(frames))
    assert await asyncio.to_thread(renderer.done.wait, 10)
    await asyncio.sleep(0.01)  # the stream goes on to wait for the frame's time
    assert not task.done()
    return task


def _spoken(at_s: float) -> tuple[AudioChunk, list[PhonemeTiming]]:
    chunk = AudioChunk(np.zeros(8000, dtype=np.float32), 16000, at_s)
    return chunk, [PhonemeTiming("a", "aa", 0.0, 0.4)]


async def test_stream_renders_ahead_and_hands_each_frame_out_at_its_time(rig: FaceRig) -> None:
    renderer = _CountingRenderer(rig)
    animator = FaceAnimator(rig, idle=False, renderer=renderer)
    now = [0.0]
    frames = animator.stream(lambda: now[0])
    assert (await anext(frames)).index == 0
    waiting = await _frame_waiting_for_its_time(animator, frames, renderer)
    # Frame 1 is rendered while the clock still shows frame 0's time, and not handed out early.
    await asyncio.sleep(0.06)
    assert not waiting.done()
    now[0] = 0.04
    assert (await waiting).index == 1
    assert len(renderer.rendered) == 2


async def test_an_interruption_reaches_a_frame_rendered_ahead(rig: FaceRig) -> None:
    """The frame waiting for its time is rendered again: the mouth lets go exactly as it
    does when frames are rendered at their time."""
    renderer = _CountingRenderer(rig)
    animator = FaceAnimator(rig, idle=False, renderer=renderer)
    reference = FaceAnimator(rig, idle=False)
    loud = AudioChunk(syllables(3.0, 16000, rate_hz=1.0), 16000, 0.0)
    animator.push_audio(loud)
    reference.push_audio(loud)
    now = [0.0]
    frames = animator.stream(lambda: now[0])
    for index in range(8):
        now[0] = animator.timestamp(index)
        assert (await anext(frames)).params == reference.next_frame().params
    waiting = await _frame_waiting_for_its_time(animator, frames, renderer)
    assert renderer.rendered[-1].jaw > 0.1  # rendered while speaking
    animator.interrupt()
    reference.interrupt()
    now[0] = animator.timestamp(8)
    after = [await waiting]
    now[0] = animator.timestamp(9)
    after.append(await anext(frames))
    expected = [reference.next_frame().params for _ in range(2)]
    assert [f.params for f in after] == expected
    assert expected[0] != NEUTRAL and expected[1] == NEUTRAL
    assert np.array_equal(after[1].image, animator.renderer.render(NEUTRAL))


async def test_speech_queued_for_a_frame_rendered_ahead_reaches_it(rig: FaceRig) -> None:
    renderer = _CountingRenderer(rig)
    animator = FaceAnimator(rig, idle=False, renderer=renderer)
    now = [0.0]
    frames = animator.stream(lambda: now[0])
    for index in range(5):
        now[0] = animator.timestamp(index)
        assert (await anext(frames)).params == NEUTRAL
    waiting = await _frame_waiting_for_its_time(animator, frames, renderer)
    assert renderer.rendered[-1] == NEUTRAL
    # The voice starts 50 ms from now, inside frame 5's time on screen.
    animator.push_audio(*_spoken(animator.timestamp(4) + 0.05))
    now[0] = animator.timestamp(5)
    frame = await waiting
    reference = FaceAnimator(rig, idle=False)
    reference.push_audio(*_spoken(animator.timestamp(4) + 0.05))
    assert frame.index == 5
    assert frame.params == reference.params_at(5)
    assert frame.params.jaw > 0.5
    assert np.array_equal(frame.image, animator.renderer.render(frame.params))


async def test_speech_queued_later_keeps_the_frame_rendered_ahead(rig: FaceRig) -> None:
    renderer = _CountingRenderer(rig)
    animator = FaceAnimator(rig, idle=False, renderer=renderer)
    now = [0.0]
    frames = animator.stream(lambda: now[0])
    await anext(frames)
    waiting = await _frame_waiting_for_its_time(animator, frames, renderer)
    animator.push_audio(*_spoken(2.0))  # a later sentence, queued behind what plays
    now[0] = animator.timestamp(1)
    assert (await waiting).index == 1
    assert len(renderer.rendered) == 2
