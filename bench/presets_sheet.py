"""Contact sheet of the nine preset characters: docs/presets.png.

Each preset goes through the server's own image processing (`process_reference_image` with its
stored face points), then the animator speaks the preset's opening line in its voice (Piper,
with phoneme timings, when the voice model is prepared; a syllable-like synthetic signal
otherwise). Per preset the sheet shows the processed frame at rest and, enlarged, the face at
the most open mouth of the middle of the line.

Usage: .venv/bin/python bench/presets_sheet.py [--out docs/presets.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from opencharacters.animation.rig import FaceRig  # noqa: E402
from opencharacters.animation.stream import FaceAnimator  # noqa: E402
from opencharacters.animation.sync import syllables  # noqa: E402
from opencharacters.domain.preset_characters import PRESET_CHARACTERS, PresetCharacter  # noqa: E402
from opencharacters.ingest.images import process_reference_image  # noqa: E402
from opencharacters.media.audio import AudioChunk  # noqa: E402
from opencharacters.presets.install import preset_face_points, preset_image  # noqa: E402

FPS = 25
TILE_H = 300


def _speech(preset: PresetCharacter) -> list[tuple[AudioChunk, Any]]:
    try:
        from opencharacters.engine_settings import EngineSettings
        from opencharacters.speech.engines import load_synthesizer

        synthesizer = _speech.synthesizer  # type: ignore[attr-defined]
        if synthesizer is None:
            synthesizer = load_synthesizer(EngineSettings())
            _speech.synthesizer = synthesizer  # type: ignore[attr-defined]
    except Exception as error:  # the voice model may not be prepared on this machine
        print(f"no Piper voice ({error}); using a synthetic signal")
        return [(AudioChunk(syllables(3.0, 16000), 16000, 0.0), None)]
    segments, offset = [], 0.0
    for audio, timings, _ in synthesizer.segments(preset.start_script, preset.voice):
        segments.append((AudioChunk(audio, synthesizer.sample_rate, offset), timings))
        offset += len(audio) / synthesizer.sample_rate
    return segments


_speech.synthesizer = None  # type: ignore[attr-defined]


def _label(image: np.ndarray[Any, Any], text: str, y: int) -> None:
    for colour, width in (((0, 0, 0), 4), ((255, 255, 255), 1)):
        cv2.putText(image, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, width, cv2.LINE_AA)


def cell(preset: PresetCharacter) -> np.ndarray[Any, Any]:
    processed = process_reference_image(
        preset_image(preset.id),
        mode="optimize",
        output_size=(1088, 704),
        max_pixels=40_000_000,
        preview_max_side=512,
        face_points=preset_face_points(preset.id),
    )
    rig = FaceRig.from_json(processed.rig_json)
    animator = FaceAnimator(rig, fps=FPS, idle=False)
    segments = _speech(preset)
    for chunk, timings in segments:
        animator.push_audio(chunk, timings)
    duration = sum(chunk.duration_s for chunk, _ in segments)
    frames = round(duration * FPS)
    middle = range(frames // 3, max(frames // 3 + 1, 2 * frames // 3))
    index = max(middle, key=lambda i: animator.params_at(i).jaw)
    talking = animator.renderer.render(animator.params_at(index))
    rest = rig.image()
    left = cv2.resize(rest, (round(TILE_H * 1088 / 704), TILE_H), interpolation=cv2.INTER_AREA)
    x0, y0, x1, y1 = animator.renderer.roi
    face = talking[y0:y1, x0:x1]
    right = cv2.resize(face, (round(TILE_H * face.shape[1] / face.shape[0]), TILE_H))
    tile = np.hstack([left, right])
    _label(tile, f"{preset.name} - {preset.id} - voice {preset.voice}", 24)
    _label(
        tile,
        f"at rest | speaking, frame {index} (jaw {animator.params_at(index).jaw:.2f})",
        TILE_H - 12,
    )
    return tile


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "presets.png")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    tiles = [cell(preset) for preset in PRESET_CHARACTERS]
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 0), (0, width - t.shape[1]), (0, 0))) for t in tiles]
    gap = np.full((6, width, 3), 255, np.uint8)
    column_a = np.vstack([x for t in tiles[:5] for x in (t, gap)])
    column_b = np.vstack([x for t in tiles[5:] for x in (t, gap)])
    column_b = np.pad(
        column_b, ((0, column_a.shape[0] - column_b.shape[0]), (0, 0), (0, 0)), constant_values=255
    )
    sheet = np.hstack([column_a, np.full((column_a.shape[0], 6, 3), 255, np.uint8), column_b])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")


if __name__ == "__main__":
    main()
