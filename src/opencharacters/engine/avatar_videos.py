"""Renders an avatar speaking given audio or text into an MP4: rig + speech -> animator -> file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from opencharacters.animation.media import write_mp4
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import AudioChunk, read_audio
from opencharacters.speech.engines import shared_synthesizer
from opencharacters.speech.tts import Voice

FPS = 25
MAX_AUDIO_S = 300.0


class SpeechRejected(Exception):
    """The speech cannot be rendered; the message becomes the task's failure."""


def decode_audio(data: bytes) -> AudioChunk:
    with tempfile.NamedTemporaryFile(suffix=".audio") as tmp:
        tmp.write(data)
        tmp.flush()
        try:
            sound = read_audio(Path(tmp.name))
        except Exception as exc:  # PyAV raises many kinds; all mean "not audio we can read"
            raise SpeechRejected(
                f"The audio could not be decoded ({type(exc).__name__})."
            ) from None
    if sound.samples.size == 0:
        raise SpeechRejected("The audio holds no samples.")
    return sound


def render_video(
    rig_json: bytes,
    output: Path,
    *,
    audio: bytes | None = None,
    text: str | None = None,
    voice_id: Voice | None = None,
    engines: EngineSettings | None = None,
    progress: Callable[[float], None] | None = None,
) -> float:
    """Writes the MP4 and returns its duration in seconds. Blocking: run it in a worker thread."""
    rig = FaceRig.from_json(rig_json)
    animator = FaceAnimator(rig, fps=FPS)
    if audio is not None:
        sound = decode_audio(audio)
        if sound.duration_s > MAX_AUDIO_S:
            raise SpeechRejected(
                f"The audio is {sound.duration_s:.0f} s long; the limit is {MAX_AUDIO_S:.0f} s."
            )
        animator.push_audio(sound)
    else:
        assert text is not None and voice_id is not None
        synthesizer = shared_synthesizer(engines or EngineSettings())
        pieces: list[np.ndarray] = []
        at = 0.0
        for samples, phonemes, _ in synthesizer.segments(text, voice_id):
            chunk = AudioChunk(samples, synthesizer.sample_rate, at)
            animator.push_audio(chunk, phonemes)
            pieces.append(samples)
            at += chunk.duration_s
        if not pieces:
            raise SpeechRejected("The text has nothing to say.")
        sound = AudioChunk(np.concatenate(pieces), synthesizer.sample_rate, 0.0)
    if progress:
        progress(0.5)
    write_mp4(output, animator.frames_for(sound.duration_s), sound, FPS)
    return sound.duration_s
