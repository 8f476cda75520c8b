"""The session worker's turn logic with fake models (timing-independent assertions).

The media path runs for real (speaker, audio track pacing, animator); the models are fakes that
answer instantly, so what is checked is who hears what and what is remembered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from opencharacters.animation.rig import prepare
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import ToolSpec
from opencharacters.engine.live.clock import SessionClock
from opencharacters.engine.live.engines import SharedEngines
from opencharacters.engine.live.worker import CallSpec, SessionWorker, TranscriptSink
from opencharacters.engine_settings import EngineSettings
from opencharacters.speech.listener import UserTurn
from opencharacters.speech.tts import PhonemeTiming

FACE = Path(__file__).parents[2] / "assets" / "astronaut.jpg"
RATE = 16_000


class FakeModel:
    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.calls: list[str] = []

    async def prepare(self, system_prompt: str) -> Any:
        class Persona:
            pass

        persona = Persona()
        persona.system_prompt = system_prompt  # type: ignore[attr-defined]
        return persona

    async def stream(
        self,
        persona: Any,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[Any] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
    ) -> AsyncIterator[str]:
        user = str(messages[-1]["content"])
        self.calls.append(user)
        for word in self.replies[user].split(" "):
            await asyncio.sleep(0.005)
            yield word + " "


class FakeSynthesizer:
    """0.1 s of quiet tone per word, so sentences have lengths to cut into."""

    sample_rate = RATE

    def segments(
        self, text: str, voice_id: str
    ) -> Iterator[tuple[np.ndarray, tuple[PhonemeTiming, ...], float]]:
        n = round(0.1 * RATE * len(text.split()))
        tone = (0.2 * np.sin(2 * np.pi * 200 * np.arange(n) / RATE)).astype(np.float32)
        yield tone, (), 0.0


class Transcript(TranscriptSink):
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, bool]] = []
        self.tools: list[Any] = []

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[Any] = (),
    ) -> None:
        self.entries.append((role, content or "", interrupted))
        self.tools.extend(tools)


class Loader:
    def __init__(self, engines: SharedEngines) -> None:
        self.engines = engines

    async def get(self) -> SharedEngines:
        return self.engines


@pytest.fixture(scope="module")
def rig_json() -> bytes:
    return prepare(FACE.read_bytes()).to_bytes()


def make_worker(
    rig_json: bytes,
    replies: dict[str, str],
    start_script: str | None = None,
    tools: tuple[ToolSpec, ...] = (),
) -> tuple[SessionWorker, FakeModel, Transcript]:
    model = FakeModel(replies)
    engines = SharedEngines(None, model, FakeSynthesizer(), 0.0)  # type: ignore[arg-type]
    transcript = Transcript()
    spec = CallSpec(
        "s", "org", rig_json, "clara", "You are a test.", start_script, 300, tools=tools
    )
    worker = SessionWorker(
        spec,
        engines=Loader(engines),  # type: ignore[arg-type]
        engine_settings=EngineSettings(),
        clock=SessionClock(),
        transcript=transcript,
    )
    return worker, model, transcript


async def play(worker: SessionWorker, seconds: float) -> None:
    """Pulls the avatar's audio as the WebRTC sender would, for `seconds`."""
    deadline = worker.clock.now() + seconds
    while worker.clock.now() < deadline:
        await worker.audio_track.recv()


async def start(worker: SessionWorker) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
    conversing = asyncio.ensure_future(worker.converse())
    media = asyncio.ensure_future(play(worker, 60))
    await asyncio.sleep(0.05)
    return conversing, media


async def stop(worker: SessionWorker, tasks: tuple[asyncio.Task[None], asyncio.Task[None]]) -> None:
    from opencharacters.engine.live.worker import Ending, Outcome

    worker.end(Ending(Outcome.COMPLETED, "test"))
    await tasks[0]
    tasks[1].cancel()
    await worker.shutdown()


def turn(text: str) -> UserTurn:
    return UserTurn(text, 0.0, 0.5, 0.6, 0.0)


async def wait_listening(worker: SessionWorker) -> None:
    await asyncio.sleep(0.05)
    deadline = asyncio.get_running_loop().time() + 10
    while worker._reply is not None:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def wait_for_state(worker: SessionWorker, state: str) -> None:
    for _ in range(500):
        if worker._state == state:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {state}")


async def test_an_answer_is_heard_whole_and_remembered(rig_json: bytes) -> None:
    worker, _, transcript = make_worker(rig_json, {"Hi": "Hello there. How are you?"})
    tasks = await start(worker)
    await worker._caller_turn(turn("Hi"))
    await wait_listening(worker)
    assert transcript.entries == [
        ("user", "Hi", False),
        ("assistant", "Hello there. How are you?", False),
    ]
    assert worker._conversation is not None
    assert worker._conversation.history == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello there. How are you?"},
    ]
    await stop(worker, tasks)


async def test_barge_in_keeps_only_the_words_heard(rig_json: bytes) -> None:
    answer = "One two three four five. Six seven eight nine ten. Eleven twelve thirteen."
    worker, _, transcript = make_worker(rig_json, {"Count": answer})
    tasks = await start(worker)
    await worker._caller_turn(turn("Count"))
    await wait_for_state(worker, "speaking")
    await asyncio.sleep(0.45)  # about four words
    worker._caller_started_speaking(worker.clock.now())
    await asyncio.sleep(0.3)
    role, heard, interrupted = transcript.entries[-1]
    assert role == "assistant" and interrupted
    assert heard and answer.startswith(heard) and len(heard.split()) < 8
    assert worker._conversation is not None
    assert worker._conversation.history[-1] == {"role": "assistant", "content": heard}
    assert not worker.speaker.speaking()
    # The rest of the answer is never sent: captions stop at the cut.
    await asyncio.sleep(0.5)
    captions = [
        m["text"]
        for m in worker.channel._pending
        if m.get("type") == "transcription" and m.get("role") == "assistant"
    ]
    assert "".join(captions).strip() == heard
    await stop(worker, tasks)


async def test_caller_speech_while_thinking_drops_the_unheard_answer(rig_json: bytes) -> None:
    worker, _, transcript = make_worker(rig_json, {"Hm": "A long answer that nobody hears."})
    tasks = await start(worker)
    await worker._caller_turn(turn("Hm"))
    worker._caller_started_speaking(worker.clock.now())  # before any audio was scheduled
    await asyncio.sleep(0.3)
    assert transcript.entries == [("user", "Hm", False)]
    assert worker._conversation is not None
    assert worker._conversation.history == [{"role": "user", "content": "Hm"}]
    await stop(worker, tasks)


async def test_a_matching_speculation_is_kept_and_a_stale_one_dropped(rig_json: bytes) -> None:
    replies = {"Book a table": "Sure, for how many?", "Book a table for two": "Done, for two."}
    worker, model, transcript = make_worker(rig_json, replies)
    tasks = await start(worker)
    worker._speculate("Book a table")
    await asyncio.sleep(0.1)
    await worker._caller_turn(turn("Book a table"))
    await wait_listening(worker)
    assert model.calls == ["Book a table"], "the speculative reply was used, not regenerated"
    assert worker.turn_timings[-1].speculated
    worker._speculate("Book a table")
    await asyncio.sleep(0.1)
    await worker._caller_turn(turn("Book a table for two"))
    await wait_listening(worker)
    assert model.calls[-1] == "Book a table for two"
    assert worker._conversation is not None
    assert worker._conversation.history == [
        {"role": "user", "content": "Book a table"},
        {"role": "assistant", "content": "Sure, for how many?"},
        {"role": "user", "content": "Book a table for two"},
        {"role": "assistant", "content": "Done, for two."},
    ]
    assert [e[1] for e in transcript.entries] == [
        "Book a table",
        "Sure, for how many?",
        "Book a table for two",
        "Done, for two.",
    ]
    await stop(worker, tasks)


async def test_the_start_script_is_said_and_remembered(rig_json: bytes) -> None:
    worker, _, transcript = make_worker(rig_json, {}, start_script="Welcome in.")
    tasks = await start(worker)
    await wait_listening(worker)
    assert transcript.entries == [("assistant", "Welcome in.", False)]
    assert worker._conversation is not None
    assert worker._conversation.history == [{"role": "assistant", "content": "Welcome in."}]
    states = [m["state"] for m in worker.channel._pending if m.get("type").endswith("state")]
    assert states[:3] == ["thinking", "speaking", "listening"]
    await stop(worker, tasks)


async def test_invalid_action_arguments_are_never_sent(rig_json: bytes) -> None:
    show = ToolSpec.from_json(
        {
            "type": "client_event",
            "name": "show_product",
            "description": "Show a product",
            "parameters": [
                {"type": "string", "name": "product", "description": "which", "enum": ["hat"]}
            ],
        }
    )
    call = '<call>{"name": "show_product", "arguments": {"product": "scarf"}}</call>'
    worker, _, transcript = make_worker(rig_json, {"Show me a scarf": call}, tools=(show,))
    tasks = await start(worker)
    await worker._caller_turn(turn("Show me a scarf"))
    await wait_listening(worker)
    sent = [m for m in worker.channel._pending if m.get("type") == "client_event"]
    assert sent == [], "an argument outside the enum never reaches the caller's app"
    (record,) = transcript.tools
    assert record.call.arguments == {"product": "scarf"}
    assert record.outcome.error == "invalid arguments: product: must be one of hat"
    assert transcript.entries[-1] == ("assistant", "Sorry, I couldn't do that right now.", False)
    await stop(worker, tasks)


async def test_a_caller_whose_media_stops_ends_the_call(
    rig_json: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opencharacters.engine.live.worker as worker_module

    monkeypatch.setattr(worker_module, "CALLER_SILENT_TIMEOUT_S", 0.5)
    worker, _, _ = make_worker(rig_json, {})
    tasks = await start(worker)
    worker._caller_audio_at = worker.clock.now()  # a packet, then nothing
    await asyncio.wait_for(tasks[0], 5)
    assert worker.ending is not None and worker.ending.reason == "the caller's media stopped"
    tasks[1].cancel()
    await worker.shutdown()
