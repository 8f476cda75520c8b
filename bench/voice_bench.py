"""Custom voices: does a description move the voice the way it says, how close does a clone
land, are the voices intelligible, how long does each step take.

1. Design: 10 descriptions spanning gender, age, pitch and pace, parsed by the configured
   parser ("auto": dialogue model + rules), built, rendered saying 3 fixed sentences (SENTENCES
   0-2, 32 words), measured (median F0, speaking rate in timing units/s, see
   speech/voice_analysis.py) and transcribed by the product's Whisper for WER. Each pair of
   contrasting descriptions is checked for the direction of F0 and rate.
2. Cloning: samples from three presets (marcus, skye, emma), from a pitch-shifted recording
   (raw joe through Praat's PSOLA "Change gender": +5.6 semitones, formants x1.12, a method
   independent of our WORLD builder) and from two espeak-ng voices (a different synthesizer
   altogether: en-us male, en-us+f3 female). Each sample says a paragraph the clone never
   says; the clone is then rendered saying another paragraph, and both are measured with the
   same instrument. Reported: F0 median and formant-scale errors, rate, the distance (see
   voice_analysis.distance) from the clone to its source and to every preset.
3. Parser accuracy on 16 labelled descriptions: rules alone, model alone, model+rules.

    .venv/bin/python bench/voice_bench.py [--skip-parser]
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np
import parselmouth
from parselmouth.praat import call

from common import SENTENCES, espeak, load_average, write_results
from opencharacters.domain.voice_designs import VoiceDesign
from opencharacters.domain.voices import PRESET_IDS
from opencharacters.engine_settings import EngineSettings
from opencharacters.speech import voice_analysis
from opencharacters.speech.engines import load_recognizer, shared_synthesizer
from opencharacters.speech.voice_builder import design_from_attributes
from opencharacters.speech.voice_cloning import EmbeddedCloner, ensure_reference
from opencharacters.speech.voice_prompts import ModelParser, combine, parse_prompt, parse_rules
from opencharacters.speech.wer import word_errors

DESIGN_PROMPTS = (
    "A deep, slow, older male voice, warm and calm",
    "A high-pitched, fast-talking young woman with a bright tone",
    "A cheerful little girl who talks quickly",
    "An elderly woman who speaks slowly and softly",
    "A young man with a high, energetic voice, speaking fast",
    "A very deep, booming male voice, measured and deliberate",
    "A middle-aged woman with a low, calm, even voice",
    "A neutral, medium-pitched voice at a normal pace",
    "A small boy, about 8 years old, excited and very fast",
    "A gentle, breathy female voice, very slow and dreamy",
)
# (description a, description b, F0 of a vs b, rate of a vs b): "<" means a is lower/slower.
DIRECTIONS = (
    (1, 0, ">", ">"),  # young fast woman vs slow old man
    (2, 3, ">", ">"),  # fast child vs slow elderly woman
    (4, 5, ">", ">"),  # high fast young man vs very deep measured man
    (6, 1, "<", "<"),  # low calm middle-aged woman vs high fast young woman
    (8, 0, ">", ">"),  # fast boy vs slow old man
    (9, 1, None, "<"),  # very slow woman vs fast woman
    (5, 7, "<", "<"),  # very deep measured man vs neutral medium voice
)
LABELLED = (
    *(
        (p, labels)
        for p, labels in zip(
            DESIGN_PROMPTS,
            (
                {"gender": "male", "age": "old", "pitch": "low", "pace": "slow"},
                {"gender": "female", "age": "young", "pitch": "high", "pace": "fast"},
                {"gender": "female", "age": "child", "pace": "fast"},
                {"gender": "female", "age": "old", "pace": "slow"},
                {"gender": "male", "age": "young", "pitch": "high", "pace": "fast"},
                {"gender": "male", "pitch": "very low", "pace": "slow"},
                {"gender": "female", "age": "middle-aged", "pitch": "low"},
                {"gender": "neutral", "pitch": "medium", "pace": "medium"},
                {"gender": "male", "age": "child", "pace": "very fast"},
                {"gender": "female", "pace": "very slow", "breathiness": "breathy"},
            ),
            strict=True,
        )
    ),
    (
        "Sounds like a grandfather telling a bedtime story by the fire",
        {"gender": "male", "age": "old"},
    ),
    ("A baritone news anchor who speaks crisply", {"gender": "male", "pitch": "low"}),
    ("A soprano opera singer speaking in a lively way", {"gender": "female", "pitch": "high"}),
    ("A teenage girl, chatty and rapid", {"gender": "female", "age": "young", "pace": "fast"}),
    ("A retired professor, unhurried and thoughtful", {"age": "old", "pace": "slow"}),
    (
        "A woman in her 40s with a smoky, low voice",
        {"gender": "female", "age": "middle-aged", "pitch": "low"},
    ),
)
SAMPLE_TEXT = (
    "Please call Stella. Ask her to bring these things with her from the store: six spoons of "
    "fresh snow peas, five thick slabs of blue cheese, and maybe a snack for her brother Bob. "
    "We also need a small plastic snake and a big toy frog for the kids. She can scoop these "
    "things into three red bags, and we will go meet her Wednesday at the train station."
)
HELD_OUT_TEXT = " ".join(SENTENCES[3:9])


def render(design: VoiceDesign | str, text: str, engines: EngineSettings) -> tuple[Any, int]:
    synthesizer = shared_synthesizer(engines)
    return synthesizer.synthesize_text(text, design), synthesizer.sample_rate


def design_part(engines: EngineSettings, recognizer: Any) -> dict[str, Any]:
    text = " ".join(SENTENCES[:3])
    rows: list[dict[str, Any]] = []
    errors = words = 0
    for prompt in DESIGN_PROMPTS:
        started = time.perf_counter()
        attributes, how = parse_prompt(prompt, engines)
        parse_s = time.perf_counter() - started
        design = design_from_attributes(attributes)
        audio, rate = render(design, text, engines)
        m = voice_analysis.measure(audio, rate, text)
        heard = recognizer.transcribe_sync(audio, rate).text
        e, n = word_errors(text, heard)
        errors, words = errors + e, words + n
        rows.append(
            {
                "prompt": prompt,
                "attributes": attributes.as_dict(),
                "parsedBy": how,
                "parse_s": round(parse_s, 2),
                "design": repr(design),
                "f0": round(m.f0_median_hz, 1),
                "rate": round(m.speech_rate, 2),
                "formant_scale": round(m.formant_scale, 3),
                "wer": round(e / n, 3),
                "heard": heard,
            }
        )
    checks = []
    for a, b, f0_dir, rate_dir in DIRECTIONS:
        ra, rb = rows[a], rows[b]
        ok_f0 = f0_dir is None or (ra["f0"] < rb["f0"]) == (f0_dir == "<")
        ok_rate = (ra["rate"] < rb["rate"]) == (rate_dir == "<")
        checks.append({"a": a, "b": b, "f0": f0_dir, "rate": rate_dir, "ok": ok_f0 and ok_rate})
    return {"rows": rows, "wer": errors / max(words, 1), "directions": checks}


def shifted_joe(engines: EngineSettings) -> tuple[Any, int]:
    audio, rate = render(VoiceDesign(None), SAMPLE_TEXT, engines)
    sound = parselmouth.Sound(audio.astype(np.float64), rate)
    changed = call(sound, "Change gender", 75, 600, 1.12, 122, 1.0, 1.0)
    return np.asarray(changed.values[0], dtype=np.float32), rate


def cloning_part(engines: EngineSettings) -> dict[str, Any]:
    cloner = EmbeddedCloner(engines)
    presets = {
        preset: voice_analysis.measure(*render(preset, HELD_OUT_TEXT, engines), HELD_OUT_TEXT)
        for preset in PRESET_IDS
    }
    sources: dict[str, tuple[Any, int]] = {
        name: render(name, SAMPLE_TEXT, engines) for name in ("marcus", "skye", "emma")
    }
    sources["joe shifted (PSOLA)"] = shifted_joe(engines)
    sources["espeak-ng en-us"] = espeak(SAMPLE_TEXT, "en-us", 150)
    sources["espeak-ng en-us+f3"] = espeak(SAMPLE_TEXT, "en-us+f3", 150)
    rows = []
    for name, (audio, rate) in sources.items():
        started = time.perf_counter()
        result = cloner.clone(audio, rate)
        clone_s = time.perf_counter() - started
        clone = voice_analysis.measure(
            *render(result.design, HELD_OUT_TEXT, engines), HELD_OUT_TEXT
        )
        sample = result.sample
        source_m = presets.get(name, sample)  # a preset source: compare on the same text
        to_source = voice_analysis.distance(clone, source_m)
        others = {p: voice_analysis.distance(clone, m) for p, m in presets.items() if p != name}
        nearest_other = min(others, key=lambda p: others[p])
        rows.append(
            {
                "source": name,
                "sample_f0": round(sample.f0_median_hz, 1),
                "clone_f0": round(clone.f0_median_hz, 1),
                "f0_error": round(clone.f0_median_hz / sample.f0_median_hz - 1, 4),
                "sample_scale": round(sample.formant_scale, 3),
                "clone_scale": round(clone.formant_scale, 3),
                "scale_error": round(clone.formant_scale / sample.formant_scale - 1, 4),
                "sample_rate": round(sample.speech_rate, 2),
                "clone_rate": round(clone.speech_rate, 2),
                "distance_to_source": round(to_source, 2),
                "nearest_other_preset": nearest_other,
                "distance_to_nearest_other": round(others[nearest_other], 2),
                "nearer_to_source": to_source < others[nearest_other],
                "clone_s": round(clone_s, 1),
                "design": result.design.__repr__(),
            }
        )
    return {"rows": rows}


def parser_part(engines: EngineSettings) -> dict[str, Any]:
    model = ModelParser(engines)
    scores = {"rules": [0, 0], "model": [0, 0], "model+rules": [0, 0]}
    times = []
    for prompt, labels in LABELLED:
        rules = parse_rules(prompt)
        started = time.perf_counter()
        try:
            read = model.parse(prompt)
        except Exception:
            read = {}
        times.append(time.perf_counter() - started)
        readings = {
            "rules": combine({}, rules),
            "model": combine(read, {}),
            "model+rules": combine(read, rules),
        }
        for mode, attributes in readings.items():
            got = attributes.as_dict()
            scores[mode][0] += sum(got[k] == v for k, v in labels.items())
            scores[mode][1] += len(labels)
    return {
        "accuracy": {mode: round(ok / total, 3) for mode, (ok, total) in scores.items()},
        "labels": sum(len(labels) for _, labels in LABELLED),
        "model_parse_s_median": round(float(np.median(times)), 2),
    }


def main() -> None:
    engines = EngineSettings()
    started = time.perf_counter()
    ensure_reference(engines)
    recognizer = load_recognizer(engines)
    design = design_part(engines, recognizer)
    print("\nDesign: description -> measured voice (3 sentences, 32 words)")
    print(f"{'#':>2} {'description':62} {'F0 Hz':>6} {'rate':>6} {'WER':>5}  parsed")
    for i, row in enumerate(design["rows"]):
        a = row["attributes"]
        summary = f"{a['gender']}/{a['age']}/{a['pitch']}/{a['pace']}"
        print(
            f"{i:>2} {row['prompt'][:62]:62} {row['f0']:6.1f} {row['rate']:6.2f} "
            f"{row['wer']:5.1%}  {summary} ({row['parsedBy']}, {row['parse_s']:.1f} s)"
        )
    print(f"overall WER {design['wer']:.1%}")
    for check in design["directions"]:
        print(
            f"  #{check['a']} vs #{check['b']}: F0 {check['f0'] or '-'} rate {check['rate']} "
            f"-> {'ok' if check['ok'] else 'WRONG'}"
        )
    cloning = cloning_part(engines)
    print("\nCloning: sample -> clone (clone measured on a paragraph it never heard)")
    print(
        f"{'source':22} {'F0 s/c':>13} {'err':>6} {'scale s/c':>12} {'err':>6} "
        f"{'rate s/c':>12} {'d(src)':>6} {'nearest other':>16} {'time':>6}"
    )
    for r in cloning["rows"]:
        print(
            f"{r['source']:22} {r['sample_f0']:6.1f}/{r['clone_f0']:6.1f} {r['f0_error']:+6.1%} "
            f"{r['sample_scale']:5.3f}/{r['clone_scale']:5.3f} {r['scale_error']:+6.1%} "
            f"{r['sample_rate']:5.2f}/{r['clone_rate']:5.2f} {r['distance_to_source']:6.2f} "
            f"{r['nearest_other_preset']:>9} {r['distance_to_nearest_other']:5.2f} "
            f"{r['clone_s']:5.1f}s"
        )
    results: dict[str, Any] = {"design": design, "cloning": cloning}
    if "--skip-parser" not in sys.argv:
        parser = parser_part(engines)
        results["parser"] = parser
        print(
            f"\nParser accuracy on {parser['labels']} labelled attributes: "
            + ", ".join(f"{k} {v:.0%}" for k, v in parser["accuracy"].items())
            + f"; model {parser['model_parse_s_median']} s per description (median)"
        )
    results["load_average"] = load_average()
    results["wall_s"] = round(time.perf_counter() - started, 1)
    print(f"\nwrote {write_results('voice_bench', results)}")


if __name__ == "__main__":
    main()
