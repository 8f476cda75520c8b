from __future__ import annotations

import numpy as np
import pytest

from opencharacters.animation.drive import track_from_phonemes
from opencharacters.animation.params import NEUTRAL
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
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
