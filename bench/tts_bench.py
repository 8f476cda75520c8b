"""TTS speed, intelligibility and distinctness of the 30 presets.

- time to first audio for a short clause through the streaming API;
- real-time factor per preset;
- intelligibility: Whisper (the product's ASR) WER per preset on 6 fixed sentences (62 words);
- distinctness: median F0 (Praat) and spectral centroid per preset; two presets count as
  distinct when their median F0 differ by >= 6% (about one semitone) or their spectral
  centroids by >= 8%. Both thresholds are on the generous side of published just-noticeable
  differences for voice pitch (~2-5%) and spectral centroid (~3-6%).

    .venv/bin/python bench/tts_bench.py
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import parselmouth

from common import load_average, write_results
from opencharacters.domain.voices import PRESET_VOICES
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples
from opencharacters.speech.engines import load_recognizer, load_synthesizer
from opencharacters.speech.tts import PresetSynthesizer
from opencharacters.speech.wer import word_errors

SENTENCES = (
    "Thank you for calling, how can I help you today?",
    "The museum opens at ten and closes late on Thursdays.",
    "Please bring your passport and a printed copy of the booking.",
    "My brother moved to a small village near the mountains last year.",
    "Could you check whether the parcel was delivered this morning?",
    "We will meet at the station and walk to the restaurant together.",
)
F0_JND = 0.06
CENTROID_JND = 0.08


def median_f0(audio: Samples, rate: int) -> float:
    pitch = parselmouth.Sound(audio.astype(np.float64), rate).to_pitch_ac(
        time_step=0.01, pitch_floor=60.0, pitch_ceiling=500.0
    )
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def spectral_centroid(audio: Samples, rate: int) -> float:
    frame = 1024
    frames = np.lib.stride_tricks.sliding_window_view(audio, frame)[::256]
    energy = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[energy > 0.1 * energy.max()]  # speech frames only, not pauses
    spectrum = np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1))
    freqs = np.fft.rfftfreq(frame, 1 / rate)
    centroids = (spectrum * freqs).sum(axis=1) / np.maximum(spectrum.sum(axis=1), 1e-9)
    return float(np.median(centroids))


async def time_to_first_audio(synthesizer: PresetSynthesizer, voice: str) -> float:
    async def clause() -> AsyncIterator[str]:
        yield "Sure, I can help."

    started = time.perf_counter()
    async for _ in synthesizer.synthesize(clause(), voice):
        return time.perf_counter() - started
    raise RuntimeError("no audio")


def main() -> None:
    settings = EngineSettings()
    synthesizer = load_synthesizer(settings)
    recognizer = load_recognizer(settings)
    rate = synthesizer.sample_rate
    synthesizer.synthesize_text("Warm up.", "clara")

    ttfa: dict[str, Any] = {}
    for voice in ("sam", "clara", "victoria", "vincent", "skye", "roman"):
        runs = [asyncio.run(time_to_first_audio(synthesizer, voice)) for _ in range(5)]
        ttfa[voice] = {"median_s": round(statistics.median(runs), 3), "max_s": round(max(runs), 3)}
    print("time to first audio (short clause):", ttfa)

    presets = []
    for voice in PRESET_VOICES:
        audio_parts, synth_s, errors, words = [], 0.0, 0, 0
        heard = []
        for sentence in SENTENCES:
            started = time.perf_counter()
            audio = synthesizer.synthesize_text(sentence, voice.id)
            synth_s += time.perf_counter() - started
            audio_parts.append(audio)
            text = recognizer.transcribe_sync(audio, rate).text  # type: ignore[attr-defined]
            e, w = word_errors(sentence, text)
            errors, words = errors + e, words + w
            if e:
                heard.append(text)
        audio = np.concatenate(audio_parts)
        row = {
            "id": voice.id,
            "gender": voice.gender,
            "description": voice.description,
            "median_f0_hz": round(median_f0(audio, rate), 1),
            "spectral_centroid_hz": round(spectral_centroid(audio, rate), 0),
            "seconds": round(len(audio) / rate, 2),
            "rtf": round(synth_s / (len(audio) / rate), 3),
            "wer": round(errors / words, 4),
            "misheard": heard,
        }
        presets.append(row)
        print(
            f"{row['id']:9} {row['gender']:6} F0 {row['median_f0_hz']:6.1f} Hz  centroid "
            f"{row['spectral_centroid_hz']:6.0f} Hz  {row['seconds']:5.2f} s  RTF {row['rtf']:.3f}"
            f"  WER {row['wer']:.3f}"
        )

    too_close = []
    margins = []
    for a, b in itertools.combinations(presets, 2):
        df0 = abs(a["median_f0_hz"] - b["median_f0_hz"]) / min(a["median_f0_hz"], b["median_f0_hz"])
        dc = abs(a["spectral_centroid_hz"] - b["spectral_centroid_hz"]) / min(
            a["spectral_centroid_hz"], b["spectral_centroid_hz"]
        )
        # How many JNDs apart the pair is along its more different dimension.
        margins.append((round(max(df0 / F0_JND, dc / CENTROID_JND), 2), a["id"], b["id"]))
        if df0 < F0_JND and dc < CENTROID_JND:
            too_close.append(
                {
                    "a": a["id"],
                    "b": b["id"],
                    "f0_diff": round(df0, 3),
                    "centroid_diff": round(dc, 3),
                }
            )
    total_errors = sum(p["wer"] for p in presets) / len(presets)
    print("pairs within a JND:", too_close or "none")
    print("closest pairs (JNDs apart):", sorted(margins)[:5])
    print(f"mean WER over presets {total_errors:.3f}; worst {max(p['wer'] for p in presets):.3f}")
    write_results(
        "tts",
        {
            "time_to_first_audio": ttfa,
            "presets": presets,
            "mean_wer": round(total_errors, 4),
            "max_wer": max(p["wer"] for p in presets),
            "median_rtf": statistics.median(p["rtf"] for p in presets),
            "jnd": {"f0": F0_JND, "centroid": CENTROID_JND},
            "pairs_within_jnd": too_close,
            "closest_pairs_in_jnds": sorted(margins)[:8],
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    main()
