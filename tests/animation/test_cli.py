from __future__ import annotations

import wave
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner

from opencharacters.animation.sync import syllables
from opencharacters.cli import main

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def _wav(path: Path, seconds: float, rate: int) -> None:
    pcm = (syllables(seconds, rate) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())


def test_animate_writes_an_mp4_with_exact_frames(tmp_path: Path) -> None:
    audio, video = tmp_path / "speech.wav", tmp_path / "out.mp4"
    _wav(audio, 1.37, 11025)
    result = CliRunner().invoke(
        main, ["animate", str(ASSETS / "astronaut.jpg"), str(audio), "-o", str(video)]
    )
    assert result.exit_code == 0, result.output
    with av.open(str(video)) as container:
        frames = list(container.decode(video=0))
        assert len(frames) == round(1.37 * 25)
        assert (frames[0].width, frames[0].height) == (1088, 704)
        assert frames[0].pts is not None and frames[0].time == 0.0
    with av.open(str(video)) as container:
        sound = container.streams.audio[0]
        samples = sum(f.samples for f in container.decode(sound))
        # AAC adds a frame of priming; the audio lasts as long as the WAV to within 1 frame.
        assert abs(samples / sound.rate - 1.37) < 0.05


def test_animate_sheet_and_clear_no_face_error(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.png"
    result = CliRunner().invoke(
        main, ["animate", "--sheet", str(ASSETS / "astronaut.jpg"), "-o", str(sheet)]
    )
    assert result.exit_code == 0, result.output
    assert sheet.stat().st_size > 10_000
    import cv2

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 90, np.uint8))
    result = CliRunner().invoke(main, ["animate", "--sheet", str(blank), "-o", str(sheet)])
    assert result.exit_code != 0
    assert "face_points" in result.output
