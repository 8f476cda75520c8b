"""Voice previews. Presets: a stable sentence per voice as WAV, rendered once and kept in the
model cache (keyed by everything that shapes the audio, so a retuned voice is re-rendered).
Custom voices: MP3, as Runway's previewUrl serves, stored with the voice."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from dataclasses import asdict
from pathlib import Path

from opencharacters.assets import model_cache_dir
from opencharacters.domain.voice_designs import PREVIEW_SENTENCES, VOICE_DESIGNS, VoiceDesign
from opencharacters.domain.voices import PRESETS_BY_ID
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples, float_to_int16, wav_bytes
from opencharacters.speech.engines import shared_synthesizer
from opencharacters.speech.tts import UnknownVoiceError

_RENDER_VERSION = "1"
_lock = threading.Lock()


def preview_sentence(preset_id: str) -> str:
    if preset_id not in PRESETS_BY_ID:
        raise UnknownVoiceError(preset_id)
    return PREVIEW_SENTENCES[preset_id]


def _cache_key(preset_id: str, sample_rate: int) -> str:
    recipe = {
        "version": _RENDER_VERSION,
        "design": asdict(VOICE_DESIGNS[preset_id]),
        "sentence": PREVIEW_SENTENCES[preset_id],
        "rate": sample_rate,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def render_preset_preview(preset_id: str, settings: EngineSettings | None = None) -> bytes:
    """16-bit PCM mono WAV of the preset saying its preview sentence. Blocking (≈0.3 s on first
    render, instant from cache): call it from a worker thread in async code."""
    settings = settings or EngineSettings()
    sentence = preview_sentence(preset_id)
    rate = settings.tts.output_sample_rate
    path = model_cache_dir(settings) / "previews" / f"{preset_id}-{_cache_key(preset_id, rate)}.wav"
    if settings.tts.preview_cache and path.exists():
        return path.read_bytes()
    with _lock:
        synthesizer = shared_synthesizer(settings)
        data = wav_bytes(synthesizer.synthesize_text(sentence, preset_id), synthesizer.sample_rate)
    if settings.tts.preview_cache:
        _write_atomically(path, data)
    return data


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    Path(tmp).replace(path)


CUSTOM_PREVIEW_SENTENCE = (
    "Hello! This is the voice you designed. I can't wait to talk with you, "
    "so tell me what's on your mind."
)
CUSTOM_PREVIEW_CLONE_SENTENCE = (
    "Hello! This is the voice cloned from your sample. I can't wait to talk with you, "
    "so tell me what's on your mind."
)


def mp3_bytes(samples: Samples, sample_rate: int) -> bytes:
    """Mono MP3 (LAME through PyAV, 64 kbit/s): what Runway's previews are."""
    import io

    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate)
        stream.layout = "mono"
        stream.bit_rate = 64_000
        pcm = float_to_int16(samples)
        frame_size = 1152
        for start in range(0, len(pcm), frame_size):
            chunk = np.ascontiguousarray(pcm[start : start + frame_size].reshape(1, -1))
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = sample_rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def render_design_preview(
    design: VoiceDesign, settings: EngineSettings | None = None, sentence: str | None = None
) -> tuple[bytes, float]:
    """(MP3 bytes, duration in seconds) of a custom voice saying its preview sentence.
    Blocking: call it from a worker thread in async code."""
    settings = settings or EngineSettings()
    with _lock:
        synthesizer = shared_synthesizer(settings)
        audio = synthesizer.synthesize_text(sentence or CUSTOM_PREVIEW_SENTENCE, design)
        rate = synthesizer.sample_rate
    return mp3_bytes(audio, rate), len(audio) / rate
