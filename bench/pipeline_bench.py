"""All engines loaded together: memory, and the whole hearing -> thinking -> speaking path.

Caller audio (Piper speech, fed in real time in 20 ms packets) goes through the listener (VAD +
streaming ASR), the dialogue model (persona prepared beforehand), the speakable chunker and TTS.
Reported per turn: time from the end of the caller's audio to the first reply audio, split into
end-of-turn wait, ASR wait, first chunk of text, and first audio. RSS is read from /proc.

    .venv/bin/python bench/pipeline_bench.py
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from common import load_average, to16k, write_results
from opencharacters.dialogue.conversation import Conversation
from opencharacters.dialogue.engines import load_dialogue_model
from opencharacters.engine_settings import EngineSettings
from opencharacters.speech.audio import AudioChunk
from opencharacters.speech.engines import load_recognizer, load_synthesizer, load_turn_detector
from opencharacters.speech.listener import Listener, UserTurn

PERSONA = (
    "You are Mia, the friendly receptionist of Sunrise Dental Clinic on Harbor Street. "
    "The clinic is open Monday to Friday, 9am to 5pm. A check-up costs 60 dollars."
)
CALLER_LINES = (
    "Hi, I would like to book a check-up.",
    "How much does a check-up cost?",
    "Are you open on Saturdays?",
    "Great, thank you very much.",
)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _timed_chunks(
    chunks: AsyncIterator[str], seen: list[tuple[float, str]]
) -> AsyncIterator[str]:
    async for chunk in chunks:
        seen.append((time.perf_counter(), chunk))
        yield chunk


async def one_turn(
    listener: Listener, conversation: Conversation, synthesizer: Any, caller_audio: np.ndarray
) -> dict[str, float | str]:
    audio = np.concatenate([np.zeros(6400, np.float32), caller_audio, np.zeros(24000, np.float32)])
    end_of_audio = {"wall": 0.0}
    speech_samples = 6400 + len(caller_audio)

    async def packets() -> AsyncIterator[AudioChunk]:
        start = time.perf_counter()
        for i in range(0, len(audio), 320):
            await asyncio.sleep(max(0.0, start + i / 16_000 - time.perf_counter()))
            if i <= speech_samples < i + 320:
                end_of_audio["wall"] = time.perf_counter()
            yield AudioChunk(audio[i : i + 320], 16_000, i / 16_000)

    async for event in listener.listen(packets()):
        if not isinstance(event, UserTurn):
            continue
        heard_at = time.perf_counter()
        first_audio_at = 0.0
        reply: list[tuple[float, str]] = []
        text = _timed_chunks(conversation.reply(event.text), reply)
        async for _segment in synthesizer.synthesize(text, "clara"):
            if not first_audio_at:
                first_audio_at = time.perf_counter()
        first_text_at = reply[0][0]
        start = end_of_audio["wall"]
        return {
            "heard": event.text,
            "reply": " ".join(chunk for _, chunk in reply),
            "end_of_audio_to_transcript_s": round(heard_at - start, 3),
            "asr_wait_after_turn_end_s": round(event.asr_wait_s, 3),
            "transcript_to_first_text_chunk_s": round(first_text_at - heard_at, 3),
            "first_text_chunk_to_first_audio_s": round(first_audio_at - first_text_at, 3),
            "end_of_audio_to_first_audio_s": round(first_audio_at - start, 3),
        }
    raise RuntimeError("no turn detected")


async def main() -> None:
    settings = EngineSettings()
    baseline = rss_mb()
    started = time.perf_counter()
    synthesizer = load_synthesizer(settings)
    recognizer = load_recognizer(settings)
    model = load_dialogue_model(settings)
    detector = load_turn_detector(settings)
    load_s = time.perf_counter() - started
    conversation = Conversation(model, PERSONA, settings.dialogue)
    await conversation.prepare()
    caller = [
        to16k(synthesizer.synthesize_text(line, "sam"), synthesizer.sample_rate)
        for line in CALLER_LINES
    ]
    listener = Listener(detector, recognizer, settings.asr)
    turns = []
    for audio in caller:
        turn = await one_turn(listener, conversation, synthesizer, audio)
        turns.append(turn)
        print(turn)
    after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    later = [float(t["end_of_audio_to_first_audio_s"]) for t in turns[1:]]
    print(
        f"RSS: python+libs {baseline:.0f} MB, all engines after use {after:.0f} MB, "
        f"peak {peak:.0f} MB"
    )
    print(f"end of caller audio -> first reply audio, turns 2+: {later}")
    write_results(
        "pipeline",
        {
            "load_all_s": round(load_s, 2),
            "rss_before_models_mb": round(baseline),
            "rss_all_engines_mb": round(after),
            "peak_rss_mb": round(peak),
            "turns": turns,
            "end_of_audio_to_first_audio_median_s": round(float(np.median(later)), 3),
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
