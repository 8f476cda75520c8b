"""Shared by the bench scripts: test material, noise, results output."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from opencharacters.media.audio import Samples, read_wav, resample

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RESULTS = Path(__file__).parent / "results"

SENTENCES = (
    "Please remind me to call my sister tomorrow morning before work.",
    "Could you book me a table for two at seven tonight?",
    "The weather forecast says it will rain all weekend.",
    "I would like to move my dentist appointment to Friday afternoon.",
    "How long does it take to drive from the airport to the city center?",
    "My package was supposed to arrive yesterday, but it never came.",
    "Can you recommend a good book about the history of science?",
    "Turn off the lights in the kitchen and lock the front door.",
    "What time does the pharmacy close on Sundays?",
    "I think the meeting has been moved to Thursday at noon.",
    "She bought fresh vegetables and bread at the market this morning.",
    "Is there a quiet place nearby where I can work for an hour?",
)


def espeak(text: str, voice: str = "en-us", speed: int = 160) -> tuple[Samples, int]:
    with tempfile.NamedTemporaryFile(suffix=".wav") as out:
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(speed), "-w", out.name, text], check=True
        )
        return read_wav(Path(out.name).read_bytes())


def pink_noise(n: int, seed: int = 0) -> Samples:
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.maximum(np.arange(len(spectrum)), 1)
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n)
    return (noise / np.std(noise)).astype(np.float32)


def add_noise(audio: Samples, snr_db: float, seed: int = 0) -> Samples:
    speech_power = float(np.mean(audio[np.abs(audio) > 0.01] ** 2)) if len(audio) else 0.0
    noise = pink_noise(len(audio), seed) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1, 1).astype(np.float32)


def to16k(audio: Samples, rate: int) -> Samples:
    return resample(audio, rate, 16_000)


def load_average() -> float:
    return os.getloadavg()[0]


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "bench": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "load_average_at_end": load_average(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")
    return path
