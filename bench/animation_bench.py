"""Face animation: rig preparation time, render time per 1088x704 frame on one core, A/V sync.

Prints a table and writes bench/results/animation.json. With --docs it also writes contact
sheets and short talking clips for three faces (photo, painted, drawn closed-mouth cartoon)
to docs/animation/.

Usage: .venv/bin/python bench/animation_bench.py [--frames 250] [--docs]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from opencharacters.animation import face_model  # noqa: E402
from opencharacters.animation.media import contact_sheet, write_mp4  # noqa: E402
from opencharacters.animation.rig import FaceRig, prepare  # noqa: E402
from opencharacters.animation.sample_faces import (  # noqa: E402
    CARTOON_FACE_POINTS,
    cartoon,
    painted,
)
from opencharacters.animation.stream import FaceAnimator  # noqa: E402
from opencharacters.animation.sync import (  # noqa: E402
    av_offset_s,
    mouth_opening,
    speech_envelope,
    syllables,
)
from opencharacters.media.audio import AudioChunk, read_audio  # noqa: E402

FPS = 25
SENTENCE = "Hello! I am your new assistant. How can I help you today?"


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def faces() -> dict[str, tuple[np.ndarray[Any, Any], dict[str, list[float]] | None]]:
    photo = cv2.imread(str(ROOT / "tests" / "assets" / "astronaut.jpg"))
    return {
        "photo": (photo, None),
        "painted": (painted(photo), None),
        "cartoon": (cartoon(), CARTOON_FACE_POINTS),
    }


def time_prepare(image: np.ndarray[Any, Any], points: Any, runs: int = 5) -> dict[str, float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        prepare(image, points)
        times.append(time.perf_counter() - started)
    return {
        "first_ms": round(times[0] * 1000, 1),
        "p50_ms": round(statistics.median(times) * 1000, 1),
    }


def speech_wav(directory: Path) -> Path | None:
    if shutil.which("espeak-ng") is None:
        return None
    path = directory / "speech.wav"
    subprocess.run(["espeak-ng", "-w", str(path), SENTENCE], check=True)
    return path


def piper_speech() -> tuple[AudioChunk, list[tuple[AudioChunk, Any]]] | None:
    """The sentence from the project's TTS, per segment with its phoneme timings."""
    try:
        from opencharacters.domain.voice_designs import VOICE_DESIGNS
        from opencharacters.engine_settings import EngineSettings
        from opencharacters.speech.engines import load_synthesizer

        synthesizer = load_synthesizer(EngineSettings())
    except Exception as error:  # the voice model may not be prepared on this machine
        print(f"no Piper voice ({error}); skipping the phoneme-timed measurements")
        return None
    voice = next(iter(VOICE_DESIGNS))
    segments, offset = [], 0.0
    for audio, timings, _ in synthesizer.segments(SENTENCE, voice):
        segments.append((AudioChunk(audio, synthesizer.sample_rate, offset), timings))
        offset += len(audio) / synthesizer.sample_rate
    whole = np.concatenate([chunk.samples for chunk, _ in segments])
    return AudioChunk(whole, synthesizer.sample_rate, 0.0), segments


def time_render(rig: FaceRig, audio: AudioChunk, frames: int) -> dict[str, float]:
    animator = FaceAnimator(rig, fps=FPS)
    animator.push_audio(audio)
    renderer = animator.renderer
    times = []
    for index in range(frames):
        params = animator.params_at(index % max(1, round(audio.duration_s * FPS)))
        started = time.perf_counter()
        renderer.render(params)
        times.append(time.perf_counter() - started)
    return {
        "p50_ms": round(percentile(times, 50) * 1000, 2),
        "p95_ms": round(percentile(times, 95) * 1000, 2),
        "frames": frames,
    }


def sync(
    rig: FaceRig, audio: AudioChunk, segments: list[tuple[AudioChunk, Any]] | None = None
) -> dict[str, float]:
    animator = FaceAnimator(rig, fps=FPS, idle=False)
    for chunk, timings in segments or [(audio, None)]:
        animator.push_audio(chunk, timings)
    images = [f.image for f in animator.frames_for(audio.duration_s)]
    video = mouth_opening(images, animator.renderer.mouth_box(), rig.image())
    envelope = speech_envelope(audio.samples, audio.sample_rate, FPS, len(images))
    correlation = float(np.corrcoef(video, envelope)[0, 1])
    return {
        "offset_ms": round(av_offset_s(video, envelope, FPS) * 1000, 1),
        "correlation_at_0": round(correlation, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=250)
    parser.add_argument("--docs", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)  # one core per session is the budget

    results: dict[str, Any] = {
        "landmarks": "face_mesh (LiteRT)" if face_model.available() else "haar",
        "faces": {},
    }
    docs = ROOT / "docs" / "animation"
    with tempfile.TemporaryDirectory() as scratch:
        wav = speech_wav(Path(scratch))
        speech = read_audio(wav) if wav else None
        synthetic = AudioChunk(syllables(6.0, 16000), 16000, 0.0)
        piper = piper_speech()
        for name, (image, points) in faces().items():
            rig = prepare(image, points)
            entry: dict[str, Any] = {
                "landmark_source": rig.landmark_source,
                "prepare": time_prepare(image, points),
                "render_1088x704": time_render(rig, speech or synthetic, args.frames),
                "sync_synthetic": sync(rig, synthetic),
            }
            if speech is not None:
                entry["sync_espeak"] = sync(rig, speech)
            if piper is not None:
                entry["sync_piper_phonemes"] = sync(rig, *piper)
            results["faces"][name] = entry
            if args.docs:
                docs.mkdir(parents=True, exist_ok=True)
                from opencharacters.animation.render import Renderer

                sheet = contact_sheet(Renderer(rig), columns=6, tile_width=160)
                cv2.imwrite(str(docs / f"{name}_sheet.png"), sheet)
                if piper is not None:
                    # Piper with its phoneme timings: shows the visemes, not just the jaw.
                    animator = FaceAnimator(rig, fps=FPS)
                    for chunk, timings in piper[1]:
                        animator.push_audio(chunk, timings)
                    frames = animator.frames_for(piper[0].duration_s)
                    write_mp4(docs / f"{name}_talking.mp4", frames, piper[0], FPS)
                elif speech is not None:
                    animator = FaceAnimator(rig, fps=FPS)
                    animator.push_audio(speech)
                    frames = animator.frames_for(speech.duration_s)
                    write_mp4(docs / f"{name}_talking.mp4", frames, speech, FPS)

    out = ROOT / "bench" / "results" / "animation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"landmarks: {results['landmarks']}")
    header = ("face", "prep p50", "render p50", "p95", "sync synth", "sync espeak", "sync piper")
    print("".join(f"{h:>12}" for h in header))
    for name, entry in results["faces"].items():
        render = entry["render_1088x704"]
        row = (
            name,
            f"{entry['prepare']['p50_ms']:.1f}ms",
            f"{render['p50_ms']:.2f}ms",
            f"{render['p95_ms']:.2f}ms",
            f"{entry['sync_synthetic']['offset_ms']:.1f}ms",
            f"{entry.get('sync_espeak', {}).get('offset_ms', float('nan')):.1f}ms",
            f"{entry.get('sync_piper_phonemes', {}).get('offset_ms', float('nan')):.1f}ms",
        )
        print("".join(f"{cell:>12}" for cell in row))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
