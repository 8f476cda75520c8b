"""`opencharacters call`: the command-line caller against the real server, saving what it got."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import Samples, float_to_int16, read_audio
from tests.engine.live.conftest import conversation
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def write_wav(path: Path, samples: Samples, rate: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(float_to_int16(samples).tobytes())


def test_the_call_command_talks_and_saves_the_reply(
    live_server: Server,
    avatar_id: str,
    say: Callable[[str], tuple[Samples, int]],
    tmp_path: Path,
) -> None:
    question = tmp_path / "question.wav"
    words, rate = say("What is your name?")
    # Ten seconds of silence after the words, as a recorded clip often has: the avatar answers
    # (and usually finishes) before the clip ends, which the command must still count.
    write_wav(question, np.concatenate([words, np.zeros(rate * 10, dtype=np.float32)]), rate)
    saved = tmp_path / "reply.mp4"
    env = {
        **os.environ,
        "RUNWAYML_BASE_URL": live_server.base_url,
        "RUNWAYML_API_SECRET": API_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "opencharacters", "call", avatar_id, "--say", str(question),
         "--save", str(saved), "--json"],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{done.stdout}{done.stderr}\nserver log (the tail):\n{live_server.log()[-3000:]}"
    )
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED"
    roles = [entry["role"] for entry in result["transcript"]]
    assert roles == ["assistant", "user", "assistant"], result["transcript"]
    assert result["transcript"][0]["text"] == "Hi, I'm Ada."
    assert result["turns"] and result["turns"][0]["firstAudioS"] > 0
    # The saved file holds the avatar's picture and voice as received.
    sound = read_audio(saved)
    assert sound.duration_s > 3
    window = sound.sample_rate // 10
    count = len(sound.samples) // window
    loud = np.sqrt((sound.samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    assert (loud > 0.02).sum() >= 10, "at least a second of the avatar's voice"


def test_the_call_command_talks_over_livekit(
    lk_server: Server,
    lk_api: httpx.Client,
    lk_avatar: str,
    say: Callable[[str], tuple[Samples, int]],
    tmp_path: Path,
) -> None:
    """With OPENCHARACTERS_TRANSPORT=livekit, consume returns a LiveKit room and the command
    joins it (real livekit-server): the same greeting, question, answer and clean hang-up."""
    question = tmp_path / "question.wav"
    words, rate = say("What is your name?")
    write_wav(question, np.concatenate([words, np.zeros(rate, dtype=np.float32)]), rate)
    saved = tmp_path / "reply.mp4"
    env = {
        **os.environ,
        "RUNWAYML_BASE_URL": lk_server.base_url,
        "RUNWAYML_API_SECRET": API_KEY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "opencharacters", "call", lk_avatar, "--say", str(question),
         "--save", str(saved), "--json"],
        env=env, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"{done.stdout}{done.stderr}\nserver log (the tail):\n{lk_server.log()[-3000:]}"
    )
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED", result
    transcript = result["transcript"]
    assert [entry["role"] for entry in transcript] == ["assistant", "user", "assistant"], result
    assert transcript[0]["text"] == "Hi, I'm Ada."
    assert "name" in transcript[1]["text"].lower(), transcript
    assert result["videoSize"] and result["videoFps"] > 0, result
    record = conversation(lk_api, result["sessionId"])
    assert [entry["role"] for entry in record["transcript"]] == ["assistant", "user", "assistant"]
    sound = read_audio(saved)
    window = sound.sample_rate // 10
    count = len(sound.samples) // window
    loud = np.sqrt((sound.samples[: count * window].reshape(count, window) ** 2).mean(axis=1))
    assert (loud > 0.02).sum() >= 10, "at least a second of the avatar's voice"
