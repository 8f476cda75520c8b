"""Builds each speech stage from settings: the embedded default or the configured backend."""

from __future__ import annotations

from opencharacters.assets import ensure_asset
from opencharacters.engine_settings import EngineSettings
from opencharacters.model_cache import ModelCache, cache_for
from opencharacters.speech.asr import SpeechRecognizer, WhisperRecognizer
from opencharacters.speech.asr_openai import OpenAIRecognizer
from opencharacters.speech.tts import PresetSynthesizer, SegmentSynthesizer
from opencharacters.speech.tts_openai import OpenAISpeechSynthesizer
from opencharacters.speech.turns import TurnDetector
from opencharacters.speech.vad import SileroVad


def load_vad(settings: EngineSettings) -> SileroVad:
    """One per audio stream: the model is recurrent."""
    return SileroVad(ensure_asset("silero-vad", settings), threads=settings.vad.threads)


def load_turn_detector(settings: EngineSettings, start_time_s: float = 0.0) -> TurnDetector:
    return TurnDetector(load_vad(settings), settings.vad, start_time_s)


def load_recognizer(settings: EngineSettings) -> SpeechRecognizer:
    if settings.asr.backend == "openai":
        return OpenAIRecognizer(settings.asr)
    model_dir = settings.asr.model_path or ensure_asset("whisper-base-ct2", settings)
    return WhisperRecognizer(model_dir, settings.asr)


def load_synthesizer(settings: EngineSettings) -> PresetSynthesizer:
    """The embedded synthesizer: Piper joe (and the user's Piper voices) + the presets."""
    return PresetSynthesizer(ensure_asset("piper-en_US-joe-medium", settings), settings.tts)


def load_speech_synthesizer(settings: EngineSettings) -> SegmentSynthesizer:
    """The configured speech stage: embedded, or an OpenAI-compatible server (tts.backend)."""
    if settings.tts.backend == "openai":
        return OpenAISpeechSynthesizer(settings.tts)
    return load_synthesizer(settings)


def shared_synthesizer(
    settings: EngineSettings, cache: ModelCache | None = None
) -> PresetSynthesizer:
    """The process's synthesizer for this configuration (thread-safe; loading costs ~1 s)."""
    return (cache or cache_for(settings)).shared("synthesizer", lambda: load_synthesizer(settings))


def shared_recognizer(
    settings: EngineSettings, cache: ModelCache | None = None
) -> SpeechRecognizer:
    """The process's recogniser for this configuration (the live calls' one)."""
    return (cache or cache_for(settings)).shared("recognizer", lambda: load_recognizer(settings))
