"""An OpenAI-compatible speech server as the speech stage, for real: a small `/v1/audio/speech`
server on loopback (aiohttp, speaking with our own embedded Piper voices) streams PCM or WAV,
and the synthesizer hands the audio on piece by piece with mouth shapes taken from the sound."""

from __future__ import annotations

import asyncio
import itertools
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from opencharacters.domain.voice_designs import VOICE_DESIGNS
from opencharacters.engine_settings import EngineSettings, TtsSettings
from opencharacters.media.audio import float_to_int16, resample
from opencharacters.speech.asr import WhisperRecognizer
from opencharacters.speech.audio_visemes import frame_visemes
from opencharacters.speech.engines import load_speech_synthesizer
from opencharacters.speech.tts import PresetSynthesizer, UnknownVoiceError
from opencharacters.speech.tts_openai import OpenAISpeechSynthesizer, SpeechServerError
from opencharacters.speech.wer import wer

pytestmark = pytest.mark.integration

KEY = "sk-test"
TEXT = "Hello, thanks for calling. Our clinic is open from nine to five on weekdays."


@dataclass
class SpeechServer:
    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent_seconds: list[float] = field(default_factory=list)


def _wav_header(rate: int) -> bytes:
    """A streamed WAV: sizes unknown, so 0xFFFFFFFF as streaming servers write them."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt)
        + b"data"
        + struct.pack("<I", 0xFFFFFFFF)
    )


@pytest.fixture(scope="module")
def server(synthesizer: PresetSynthesizer) -> Iterator[SpeechServer]:
    state = SpeechServer(url="")

    async def speech(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response({"error": {"message": "bad api key"}}, status=401)
        body = await request.json()
        state.requests.append(body)
        fmt = body.get("response_format")
        if fmt not in ("pcm", "wav"):
            return web.json_response({"error": {"message": f"format {fmt}"}}, status=400)
        # pcm is 24 kHz as OpenAI's; the WAV keeps Piper's 22.05 kHz (the client resamples).
        rate = 24_000 if fmt == "pcm" else synthesizer.sample_rate
        response = web.StreamResponse(headers={"Content-Type": f"audio/{fmt}"})
        await response.prepare(request)
        if fmt == "wav":
            await response.write(_wav_header(rate))
        sentences = synthesizer.segments(body["input"], body["voice"])
        sent = 0.0
        while (item := await asyncio.to_thread(next, sentences, None)) is not None:
            audio = resample(item[0], synthesizer.sample_rate, rate)
            data = float_to_int16(audio).tobytes()
            for start in range(0, len(data), 4096):  # small writes: a real stream
                await response.write(data[start : start + 4096])
            sent += len(audio) / rate
        state.sent_seconds.append(sent)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/audio/speech", speech)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/v1"
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield state
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _settings(server: SpeechServer, **extra: Any) -> TtsSettings:
    return TtsSettings(
        backend="openai",
        openai_base_url=server.url,
        openai_api_key=KEY,
        openai_voices={"clara": "sam"},
        openai_voice="sam",
        **extra,
    )


def test_pcm_streams_in_pieces_with_mouth_shapes(
    server: SpeechServer, recognizer: WhisperRecognizer
) -> None:
    synth = load_speech_synthesizer(EngineSettings(tts=_settings(server)))
    assert isinstance(synth, OpenAISpeechSynthesizer)
    pieces = list(synth.segments(TEXT, "clara"))
    request = server.requests[-1]
    assert request["voice"] == "sam" and request["response_format"] == "pcm"
    assert request["speed"] == pytest.approx(1 / VOICE_DESIGNS["clara"].length_scale, abs=0.01)
    assert len(pieces) > 3  # handed on as it arrives, not once at the end
    assert len(pieces[0][0]) / synth.sample_rate < 0.5
    audio = np.concatenate([audio for audio, _, _ in pieces])
    assert len(audio) / synth.sample_rate == pytest.approx(server.sent_seconds[-1], abs=0.01)
    shapes = [t for _, timings, _ in pieces for t in timings]
    assert {t.viseme for t in shapes} & {"aa", "E", "ih", "oh", "ou"}
    assert {t.viseme for t in shapes} & {"SS", "FF"}  # "thanks", "calling", "clinic", "five"
    for piece, timings, _ in pieces:
        assert timings[0].start_s == 0.0
        assert timings[-1].end_s == pytest.approx(len(piece) / synth.sample_rate)
    heard = recognizer.transcribe_sync(resample(audio, synth.sample_rate, 16_000)).text
    # The pieces joined are the whole sentence. Piper's output varies from run to run, and
    # Whisper sometimes writes "open from nine to five on weekdays" as "open for 9-5 weekdays"
    # (2 of 14 words): that is the listener's slip, not a seam.
    assert wer(TEXT, heard) <= 0.2, heard


def test_a_streamed_wav_at_another_rate_is_read_and_resampled(server: SpeechServer) -> None:
    synth = OpenAISpeechSynthesizer(_settings(server, openai_format="wav"))
    audio = synth.synthesize_text("Good morning, how can I help?", "sam")
    assert server.requests[-1]["response_format"] == "wav"
    assert len(audio) / synth.sample_rate == pytest.approx(server.sent_seconds[-1], abs=0.01)
    # No clicks where pieces join: the resampler is continuous.
    assert float(np.max(np.abs(np.diff(audio)))) < 0.5


async def test_async_stream_on_the_session_clock(server: SpeechServer) -> None:
    synth = OpenAISpeechSynthesizer(_settings(server))

    async def chunks():  # type: ignore[no-untyped-def]
        yield "Sure."
        yield "One moment please."

    segments = [s async for s in synth.synthesize(chunks(), "clara", start_time_s=5.0)]
    assert segments[0].audio.timestamp_s == 5.0
    for before, after in itertools.pairwise(segments):
        assert after.audio.timestamp_s == pytest.approx(
            before.audio.timestamp_s + before.audio.duration_s
        )
    assert {s.text for s in segments} == {"Sure.", "One moment please."}


def test_server_errors_are_clear(server: SpeechServer) -> None:
    wrong_key = OpenAISpeechSynthesizer(
        _settings(server).model_copy(update={"openai_api_key": "x"})
    )
    with pytest.raises(SpeechServerError, match=r"HTTP 401: .*bad api key"):
        wrong_key.synthesize_text("Hi.", "sam")
    with pytest.raises(UnknownVoiceError):
        wrong_key.synthesize_text("Hi.", "no-such-preset")
    nobody = OpenAISpeechSynthesizer(
        _settings(server).model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    )
    with pytest.raises(SpeechServerError, match="ConnectError"):
        nobody.synthesize_text("Hi.", "sam")


def test_mouth_shapes_from_sound_alone() -> None:
    rate = 24_000
    t = np.arange(rate // 2) / rate
    silence = np.zeros(rate // 2, dtype=np.float32)
    hiss = np.diff(np.random.default_rng(0).standard_normal(rate // 2 + 1)).astype(np.float32)
    hiss *= 0.1 / np.std(hiss)
    vowel = sum(0.3 / k * np.sin(2 * np.pi * 120 * k * t) for k in range(1, 6)).astype(np.float32)
    assert set(frame_visemes(silence, rate)) == {"sil"}
    assert set(frame_visemes(hiss, rate)) <= {"SS", "FF"}
    assert set(frame_visemes(vowel, rate)) <= {"ou", "oh"}  # dark, low-centred: rounded
