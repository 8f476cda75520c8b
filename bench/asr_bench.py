"""ASR quality and speed.

WER on 12 varied sentences x {Piper (natural), espeak-ng (robotic)} x {clean, pink noise at
10 dB SNR} = 48 utterances, for our short-window decoder and for faster-whisper's default 30 s
window. Latency: the streaming listener fed in real time, measuring how long after the end of
speech (and after the turn was judged over) the transcript is ready, on ~3 s utterances.

    .venv/bin/python bench/asr_bench.py
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np

from common import SENTENCES, add_noise, espeak, load_average, to16k, write_results
from opencharacters.assets import ensure_asset
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import AudioChunk, Samples
from opencharacters.speech.asr import WhisperRecognizer
from opencharacters.speech.engines import load_synthesizer, load_turn_detector
from opencharacters.speech.listener import Listener, UserTurn
from opencharacters.speech.wer import word_errors


def build_test_set(settings: EngineSettings) -> list[dict[str, Any]]:
    synthesizer = load_synthesizer(settings)
    items = []
    for i, text in enumerate(SENTENCES):
        piper = to16k(synthesizer.synthesize_text(text, "sam"), synthesizer.sample_rate)
        robotic = to16k(*espeak(text))
        for voice, audio in (("piper", piper), ("espeak", robotic)):
            items.append({"text": text, "voice": voice, "noise": "clean", "audio": audio})
            noisy = add_noise(audio, 10.0, seed=i)
            items.append({"text": text, "voice": voice, "noise": "pink10dB", "audio": noisy})
    return items


def score(items: list[dict[str, Any]], transcribe: Any) -> dict[str, Any]:
    by_condition: dict[str, list[int]] = {}
    times = []
    mistakes = []
    for item in items:
        started = time.perf_counter()
        heard = transcribe(item["audio"])
        times.append(time.perf_counter() - started)
        errors, words = word_errors(item["text"], heard)
        key = f"{item['voice']}/{item['noise']}"
        by_condition.setdefault(key, [0, 0])
        by_condition[key][0] += errors
        by_condition[key][1] += words
        if errors:
            mistakes.append({"condition": key, "said": item["text"], "heard": heard})
    return {
        "wer": {k: round(e / w, 4) for k, (e, w) in sorted(by_condition.items())},
        "mean_decode_s": round(statistics.mean(times), 3),
        "mistakes": mistakes,
    }


async def realtime_latency(
    settings: EngineSettings, recognizer: WhisperRecognizer, utterances: list[Samples]
) -> list[dict[str, float]]:
    results = []
    for speech in utterances:
        audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(24000, np.float32)])
        listener = Listener(load_turn_detector(settings), recognizer, settings.asr)
        wall_at_sample: dict[int, float] = {}

        async def chunks(
            audio: Samples = audio, wall_at_sample: dict[int, float] = wall_at_sample
        ) -> AsyncIterator[AudioChunk]:
            start = time.perf_counter()
            for i in range(0, len(audio), 320):  # 20 ms packets, paced like a live call
                await asyncio.sleep(max(0.0, start + i / 16_000 - time.perf_counter()))
                wall_at_sample[i] = time.perf_counter()
                yield AudioChunk(audio[i : i + 320], 16_000, i / 16_000)

        async for event in listener.listen(chunks()):
            if isinstance(event, UserTurn):
                now = time.perf_counter()
                speech_end_sample = 8000 + len(speech)
                end_wall = wall_at_sample[max(k for k in wall_at_sample if k <= speech_end_sample)]
                results.append(
                    {
                        "audio_s": round(len(speech) / 16_000, 2),
                        "speech_end_to_text_s": round(now - end_wall, 3),
                        "turn_end_to_text_s": round(event.asr_wait_s, 3),
                        "silence_waited_s": round(event.turn_end_s - event.speech_end_s, 3),
                    }
                )
                break
    return results


def main() -> None:
    settings = EngineSettings()
    items = build_test_set(settings)
    recognizer = WhisperRecognizer(ensure_asset("whisper-base-ct2"), settings.asr)
    ours = score(items, lambda audio: recognizer.transcribe_sync(audio).text)
    print("short-window WER:", ours["wer"], "mean decode", ours["mean_decode_s"])

    from faster_whisper import WhisperModel

    baseline_model = WhisperModel(
        str(ensure_asset("whisper-base-ct2")), device="cpu", compute_type="int8", cpu_threads=2
    )

    def baseline(audio: Samples) -> str:
        segments, _ = baseline_model.transcribe(audio, language="en", beam_size=1)
        return " ".join(s.text for s in segments)

    base = score(items, baseline)
    print("faster-whisper 30 s WER:", base["wer"], "mean decode", base["mean_decode_s"])

    three_second = [i["audio"] for i in items if i["noise"] == "clean" and i["voice"] == "piper"]
    three_second = [a for a in three_second if 2.4 <= len(a) / 16_000 <= 3.6][:5]
    decode_3s = []
    for audio in three_second:
        started = time.perf_counter()
        recognizer.transcribe_sync(audio)
        decode_3s.append(time.perf_counter() - started)
    latency = asyncio.run(realtime_latency(settings, recognizer, three_second))
    print("direct decode of ~3 s utterances:", [round(t, 3) for t in decode_3s])
    print("real-time listener:", latency)
    write_results(
        "asr",
        {
            "utterances": len(items),
            "short_window": ours,
            "faster_whisper_default": base,
            "decode_3s_utterance_s": {
                "median": round(statistics.median(decode_3s), 3),
                "all": [round(t, 3) for t in decode_3s],
            },
            "realtime_listener": latency,
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    main()
