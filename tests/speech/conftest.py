"""Real models, loaded once per test session (they are the slow part)."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples, resample
from opencharacters.speech.asr import WhisperRecognizer
from opencharacters.speech.engines import load_recognizer, load_synthesizer
from opencharacters.speech.tts import PresetSynthesizer


@pytest.fixture(scope="session")
def engine_settings() -> EngineSettings:
    return EngineSettings()


@pytest.fixture(scope="session")
def synthesizer(engine_settings: EngineSettings) -> PresetSynthesizer:
    return load_synthesizer(engine_settings)


@pytest.fixture(scope="session")
def recognizer(engine_settings: EngineSettings) -> WhisperRecognizer:
    recognizer = load_recognizer(engine_settings)
    assert isinstance(recognizer, WhisperRecognizer)
    return recognizer


@pytest.fixture(scope="session")
def speak16k(synthesizer: PresetSynthesizer):  # type: ignore[no-untyped-def]
    """Natural-sounding speech (Piper joe, untransformed) at 16 kHz."""

    def speak(text: str) -> Samples:
        audio = synthesizer.synthesize_text(text, "sam")
        return resample(audio, synthesizer.sample_rate, 16_000)

    return speak


@pytest.fixture(scope="session")
def silence():  # type: ignore[no-untyped-def]
    def make(seconds: float) -> Samples:
        return np.zeros(int(16_000 * seconds), dtype=np.float32)

    return make
