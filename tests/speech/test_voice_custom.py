"""Custom voices, speech side: description parsing, the attribute builder, measurement, cloning.
Quality figures (direction table, cloning accuracy, WER) are in bench/voice_bench.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from opencharacters.domain.voice_designs import VOICE_DESIGNS, design_from_json, design_to_json
from opencharacters.engine_settings import EngineSettings
from opencharacters.speech import voice_analysis
from opencharacters.speech.voice_builder import design_from_attributes, nearest_preset
from opencharacters.speech.voice_cloning import (
    CloneRejected,
    EmbeddedCloner,
    check_duration,
    decode_sample,
    ensure_reference,
    measure_design,
)
from opencharacters.speech.voice_prompts import (
    VoiceAttributes,
    attribute_schema,
    combine,
    parse_prompt,
    parse_rules,
)

RULES = EngineSettings.model_validate({"voices": {"prompt_parser": "rules"}})


@pytest.mark.unit
@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        (
            "A warm, slow, deep older male voice with a British accent",
            {
                "gender": "male",
                "age": "old",
                "pitch": "low",
                "pace": "slow",
                "timbre": "warm",
                "accent": "british",
            },
        ),
        (
            "A cheerful little girl who talks very fast",
            {"gender": "female", "age": "child", "pace": "very fast", "expressiveness": "lively"},
        ),
        ("A 35-year-old woman, calm and even", {"gender": "female", "age": "adult"}),
        (
            "A man in his 60s with a breathy, husky tone",
            {"gender": "male", "age": "old", "breathiness": "breathy"},
        ),
        ("A voice that is not too fast and not too high", {}),
        (
            "Bright, crisp, high-pitched young woman",
            {"gender": "female", "age": "young", "pitch": "high"},
        ),
    ],
)
def test_rules_read_what_the_description_says(prompt: str, expected: dict[str, str]) -> None:
    found = parse_rules(prompt)
    for key, value in expected.items():
        assert found.get(key) == value, (key, found)
    if not expected:
        assert "pace" not in found and "pitch" not in found


@pytest.mark.unit
def test_explicit_words_win_over_the_model() -> None:
    model = {"gender": "female", "age": "child", "pace": "fast"}
    rules = {"gender": "male", "pace": "slow"}
    merged = combine(model, rules)
    assert (merged.gender, merged.age, merged.pace) == ("male", "child", "slow")
    assert merged.pitch == "medium"  # nobody said: the default


@pytest.mark.unit
def test_schema_allows_only_the_enums() -> None:
    schema = attribute_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == set(VoiceAttributes().as_dict())
    assert "unspecified" in schema["properties"]["gender"]["enum"]


@pytest.mark.unit
def test_same_description_same_design_and_different_descriptions_differ() -> None:
    one, _ = parse_prompt("A deep, slow, elderly man", RULES)
    two, _ = parse_prompt("A deep, slow, elderly man", RULES)
    other, how = parse_prompt("A bright, fast, young woman", RULES)
    assert how == "rules"
    assert design_from_attributes(one) == design_from_attributes(two)
    a, b = design_from_attributes(one), design_from_attributes(other)
    assert a.f0_hz is not None and b.f0_hz is not None
    assert b.f0_hz > 1.5 * a.f0_hz and b.length_scale < a.length_scale


@pytest.mark.unit
def test_design_moves_the_way_the_words_say() -> None:
    base = VoiceAttributes(gender="male")
    design = design_from_attributes
    assert design(VoiceAttributes(gender="female")).f0_hz > design(base).f0_hz  # type: ignore[operator]
    assert design(VoiceAttributes(gender="male", pitch="low")).f0_hz < design(base).f0_hz  # type: ignore[operator]
    assert design(VoiceAttributes(gender="male", pace="fast")).length_scale < 1.0
    assert design(VoiceAttributes(gender="male", age="old")).length_scale > 1.0
    child = design(VoiceAttributes(gender="male", age="child"))
    assert child.formant_ratio > 1.2 and (child.f0_hz or 0) > 200
    assert design(VoiceAttributes(timbre="warm")).tilt_db_per_octave < 0
    assert design(VoiceAttributes(breathiness="breathy")).breathiness > 0.3


@pytest.mark.unit
def test_design_json_round_trip_and_nearest_preset() -> None:
    for preset, design in VOICE_DESIGNS.items():
        assert design_from_json(design_to_json(design)) == design
        assert nearest_preset(design) == preset
    deep = design_from_attributes(VoiceAttributes(gender="male", pitch="very low"))
    assert VOICE_DESIGNS[nearest_preset(deep)].f0_hz or 0 < 100


def _wav(samples: np.ndarray, rate: int) -> bytes:
    import io
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((samples * 32767).astype(np.int16).tobytes())
    return buffer.getvalue()


@pytest.mark.unit
def test_decode_and_duration_limits() -> None:
    samples, rate = decode_sample(_wav(np.zeros(16_000 * 10, np.float32), 16_000))
    assert rate == 16_000 and len(samples) == 160_000
    check_duration(samples, rate)  # exactly 10 s is allowed
    check_duration(np.zeros(300 * 8000, np.float32), 8000)  # exactly 5 min too
    with pytest.raises(CloneRejected, match=r"9\.9 s long"):
        check_duration(samples[: 16_000 * 99 // 10], rate)
    with pytest.raises(CloneRejected, match=r"300\.1 s long"):
        check_duration(np.zeros(int(300.1 * 8000), np.float32), 8000)
    with pytest.raises(CloneRejected, match="could not be decoded"):
        decode_sample(b"RIFF garbage" * 50)
    with pytest.raises(CloneRejected, match="10485760 bytes"):
        decode_sample(b"\0" * (10 * 1024 * 1024 + 1))


@pytest.fixture(scope="module")
def engines() -> EngineSettings:
    settings = EngineSettings()
    ensure_reference(settings)
    return settings


@pytest.mark.integration
def test_measurements_follow_the_builder(engines: EngineSettings) -> None:
    marcus = measure_design(VOICE_DESIGNS["marcus"], engines)
    skye = measure_design(VOICE_DESIGNS["skye"], engines)
    assert marcus.f0_median_hz == pytest.approx(88, rel=0.08)
    assert skye.f0_median_hz == pytest.approx(248, rel=0.08)
    assert marcus.formant_scale == pytest.approx(0.9, rel=0.04)
    assert skye.formant_scale == pytest.approx(1.23, rel=0.04)
    assert voice_analysis.distance(marcus, skye) > 10


@pytest.mark.integration
@pytest.mark.slow
def test_clone_lands_near_the_source(engines: EngineSettings) -> None:
    from opencharacters.speech.engines import shared_synthesizer

    synthesizer = shared_synthesizer(engines)
    text = (
        "Please call Stella. Ask her to bring these things with her from the store: six "
        "spoons of fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her "
        "brother Bob. We also need a small plastic snake and a big toy frog for the kids."
    )
    sample = synthesizer.synthesize_text(text, "emma")
    result = EmbeddedCloner(engines).clone(sample, synthesizer.sample_rate)
    assert result.clone is not None
    assert result.clone.f0_median_hz == pytest.approx(result.sample.f0_median_hz, rel=0.1)
    assert result.clone.formant_scale == pytest.approx(result.sample.formant_scale, rel=0.1)
    assert result.design.f0_hz == pytest.approx(188, rel=0.1)


@pytest.mark.integration
@pytest.mark.slow
def test_the_dialogue_model_answers_inside_the_schema() -> None:
    from opencharacters.speech.voice_prompts import ModelParser

    read = ModelParser(EngineSettings()).parse("A deep, slow voice of an old man")
    choices = attribute_schema()["properties"]
    for key, value in read.items():
        assert value in choices[key]["enum"]
    # What the 0.5B model reads differs across CPUs (greedy decoding over different SIMD sums);
    # it may leave an attribute "unspecified" but must not contradict the description, and the
    # rules fill in what it left open.
    assert read, "the model read nothing from an explicit description"
    assert read.get("gender", "male") == "male"
    assert read.get("age", "old") == "old"
    assert read.get("pace", "slow") in {"slow", "very slow"}
    attributes, how = parse_prompt("A deep, slow voice of an old man", EngineSettings())
    assert how == "model+rules"
    assert (attributes.gender, attributes.age, attributes.pace) == ("male", "old", "slow")


@pytest.mark.unit
def test_middle_aged_is_not_old() -> None:
    assert parse_rules("A middle-aged woman with a low voice")["age"] == "middle-aged"


@pytest.mark.unit
def test_voice_prompts_are_read_by_the_processs_dialogue_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No second copy of the GGUF and no client of its own: the registry's model answers."""
    import json as json_module

    import opencharacters.dialogue.engines as dialogue_engines
    from opencharacters.model_registry import models_for

    asked: list[dict[str, Any]] = []

    class Model:
        async def complete_json(
            self, messages: Any, schema: dict[str, Any], max_tokens: int
        ) -> str:
            asked.append(schema)
            return json_module.dumps({"gender": "male", "age": "old", "pace": "slow"})

    settings = EngineSettings(
        dialogue={"threads": 5}, voices={"prompt_parser": "model"}
    )  # a registry of its own for this test
    monkeypatch.setattr(dialogue_engines, "load_dialogue_model", lambda s: Model())
    attributes, how = parse_prompt("A slow old man, registry test", settings)
    assert how == "model" and asked and asked[0]["type"] == "object"
    assert (attributes.gender, attributes.age, attributes.pace) == ("male", "old", "slow")
    assert isinstance(models_for(settings).dialogue(), Model)
