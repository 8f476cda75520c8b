"""Fakes for each port of a live call and a small harness to run a CallSession with them.

In the spirit of Pipecat's `run_test`: frames in (`UserTurn`, `SpeechStarted`, partial
transcripts), frames out (what the caller's data channel received, what the transcript holds,
what the face was given). The media path is real (Speaker, the audio pacing); the models are
fakes that answer at once. The session clock is the event loop's (`LoopClock`), so the
session's timers and the test's `asyncio.sleep` share one timeline."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from opencharacters.animation.stream import VideoFrame
from opencharacters.dialogue.backend import WritingHold
from opencharacters.dialogue.messages import ChatMessage
from opencharacters.dialogue.tools import ToolCall, ToolRecord, ToolSpec
from opencharacters.engine.live.tracks import AvatarAudioTrack
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import AudioChunk
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.session import CallSession
from opencharacters.pipeline.speaker import Speaker
from opencharacters.speech.listener import PartialTranscript, SpeechStarted, UserTurn
from opencharacters.speech.tts import PhonemeTiming, SpeechSegment, Voice

RATE = 16_000


class LoopClock:
    """The session clock on the event loop's clock (monotonic, 0 at the call's start)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._origin = self._loop.time()
        self.monotonic_origin = self._origin

    def now(self) -> float:
        return self._loop.time() - self._origin

    def wall(self, at_s: float) -> Any:
        return at_s


class FakeModel:
    """A dialogue model that says the reply written for the caller's last words, word by word."""

    def __init__(self, replies: dict[str, str]) -> None:
        self.replies = replies
        self.calls: list[str] = []
        self.prompts: list[list[ChatMessage]] = []
        """Every reply's prompt, in order."""
        self.read_aheads: list[list[ChatMessage]] = []
        """Every prompt read ahead (the caller still speaking), in order."""
        self.read_ahead_s = 0.0
        """How long a reading ahead takes."""
        self.held: list[tuple[str, float]] = []
        """Each wait on a held reply: the word it stopped before, and how long it waited."""

    def action_chooser(self) -> None:
        return None

    async def complete_json(
        self, messages: Sequence[ChatMessage], schema: dict[str, Any], max_tokens: int
    ) -> str:
        return "{}"

    async def prepare(self, system_prompt: str) -> Any:
        @dataclass
        class Persona:
            system_prompt: str

        return Persona(system_prompt)

    async def read_persona(self, system_prompt: str) -> bool:
        return True

    async def read_ahead(self, persona: Any, messages: Sequence[ChatMessage]) -> None:
        self.read_aheads.append(list(messages))
        await asyncio.sleep(self.read_ahead_s)

    async def stream(
        self,
        persona: Any,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        tools: Sequence[ToolSpec] = (),
        *,
        speech_only: bool = False,
        temperature: float | None = None,
        hold: WritingHold | None = None,
    ) -> AsyncIterator[str]:
        user = str(messages[-1]["content"])
        self.calls.append(user)
        self.prompts.append(list(messages))
        loop = asyncio.get_running_loop()
        for word in self.replies[user].split(" "):
            await asyncio.sleep(0.005)
            if hold is not None and hold.held:
                since = loop.time()
                # The hold is a thread-safe flag (real models wait on it in their thread).
                while hold.held:  # noqa: ASYNC110
                    await asyncio.sleep(0.001)
                self.held.append((word, loop.time() - since))
            yield word + " "


class FakeSynthesizer:
    """0.1 s of quiet tone per word, so sentences have lengths to cut into."""

    sample_rate = RATE

    async def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]:
        async for text in text_chunks:
            n = round(0.1 * RATE * len(text.split()))
            tone = (0.2 * np.sin(2 * np.pi * 200 * np.arange(n) / RATE)).astype(np.float32)
            yield SpeechSegment(text, AudioChunk(tone, RATE, start_time_s), (), 0.0)


class SlowPiecesSynthesizer(FakeSynthesizer):
    """Each sentence in two halves: the first `first_s` after the sentence was given, the
    second `late_s` after the first."""

    def __init__(self, late_s: float, first_s: float = 0.0) -> None:
        self.late_s = late_s
        self.first_s = first_s

    async def synthesize(
        self, text_chunks: AsyncIterator[str], voice_id: Voice, start_time_s: float = 0.0
    ) -> AsyncIterator[SpeechSegment]:
        async for whole in super().synthesize(text_chunks, voice_id, start_time_s):
            half = len(whole.audio.samples) // 2
            for n, part in enumerate((whole.audio.samples[:half], whole.audio.samples[half:])):
                await asyncio.sleep(self.late_s if n else self.first_s)
                yield SpeechSegment(whole.text, AudioChunk(part, RATE, start_time_s), (), 0.0)


class FakeFace:
    """The face animation port: records what it is given."""

    fps = 25

    def __init__(self) -> None:
        self.pushed: list[AudioChunk] = []
        self.interrupts = 0

    def push_audio(
        self, chunk: AudioChunk, phonemes: Sequence[PhonemeTiming] | None = None
    ) -> None:
        self.pushed.append(chunk)

    def interrupt(self) -> None:
        self.interrupts += 1

    async def stream(self, clock: Any) -> AsyncIterator[VideoFrame]:
        raise NotImplementedError("frames are not pulled in stage tests")
        yield  # pragma: no cover


@dataclass
class Entry:
    role: str
    content: str | None
    interrupted: bool = False
    tools: list[ToolRecord] = field(default_factory=list)
    revisions: int = 0


class FakeTranscript:
    """The transcript sink: entries in order, revised in place."""

    def __init__(self) -> None:
        self.entries: list[Entry] = []

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        self.entries.append(Entry(role, content, interrupted, list(tools)))

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        self.entries.append(Entry(role, content, interrupted, list(tools)))
        return len(self.entries) - 1

    async def revise(
        self,
        handle: int,
        content: str | None,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        entry = self.entries[handle]
        entry.content, entry.interrupted, entry.tools = content, interrupted, list(tools)
        entry.revisions += 1

    def said(self) -> list[tuple[str, str, bool]]:
        return [(e.role, e.content or "", e.interrupted) for e in self.entries]

    @property
    def tools(self) -> list[ToolRecord]:
        return [record for e in self.entries for record in e.tools]


class FakeTransport:
    """The caller transport port: data events collected, caller audio from a queue."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        self.last_audio_s: float | None = None
        self.stopped = False

    async def caller_audio(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self.audio.get()) is not None:
            yield chunk

    def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def last_caller_audio_s(self) -> float | None:
        return self.last_audio_s

    def stop(self) -> None:
        self.stopped = True

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.sent if m.get("type") == kind]

    def captions(self, role: str = "assistant") -> str:
        return "".join(m["text"] for m in self.of_type("transcription") if m["role"] == role)

    def states(self) -> list[str]:
        return [m["state"] for m in self.of_type("opencharacters.state")]


@dataclass
class FakeModels:
    recognizer: Any
    dialogue: Any
    synthesizer: Any
    embedder: Any = None


class FakeModelSource:
    def __init__(self, models: FakeModels) -> None:
        self.models = models

    async def get(self) -> FakeModels:
        return self.models


@dataclass
class Call:
    """A CallSession on fakes, with its media pulled as a WebRTC sender would."""

    session: CallSession
    model: FakeModel
    transport: FakeTransport
    transcript: FakeTranscript
    face: FakeFace
    speaker: Speaker
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def clock(self) -> LoopClock:
        clock = self.session.clock
        assert isinstance(clock, LoopClock)
        return clock

    async def start(self) -> Call:
        track = AvatarAudioTrack(self.session.clock.now, self.speaker)

        async def pull() -> None:
            while True:
                await track.recv()

        self.tasks = [
            asyncio.ensure_future(self.session.converse()),
            asyncio.ensure_future(pull()),
        ]
        await asyncio.sleep(0.05)
        return self

    async def stop(self) -> None:
        self.session.end(Ending(Outcome.COMPLETED, "test"))
        await self.tasks[0]
        self.tasks[1].cancel()
        await self.session.shutdown()

    async def until_listening(self, timeout_s: float = 10) -> None:
        """Until the avatar's turn is over (heard whole, or cut)."""
        await asyncio.sleep(0.05)
        deadline = self.clock.now() + timeout_s
        while self.session.current_reply is not None:
            assert self.clock.now() < deadline, "the avatar never finished its turn"
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.05)  # its record is written right after

    async def until_state(self, state: str, timeout_s: float = 5) -> None:
        deadline = self.clock.now() + timeout_s
        while self.session.state != state:
            assert self.clock.now() < deadline, f"never {state}"
            await asyncio.sleep(0.01)


def make_call(
    replies: dict[str, str],
    *,
    start_script: str | None = None,
    tools: tuple[ToolSpec, ...] = (),
    max_duration_s: int = 300,
    synthesizer: Any = None,
) -> Call:
    """A call whose avatar answers `replies[words]` to the caller's words (call in a test)."""
    model = FakeModel(replies)
    transport = FakeTransport()
    transcript = FakeTranscript()
    face = FakeFace()
    clock = LoopClock()
    speaker = Speaker(clock.now)
    spec = CallSpec(
        "s", "org", b"", "clara", "You are a test.", start_script, max_duration_s, tools=tools
    )
    session = CallSession(
        spec,
        models=FakeModelSource(FakeModels(None, model, synthesizer or FakeSynthesizer())),
        engine_settings=EngineSettings(),
        clock=clock,  # type: ignore[arg-type]
        transport=transport,
        speaker=speaker,
        face=face,
        transcript=transcript,
        new_turn_detector=_no_detector,
    )
    return Call(session, model, transport, transcript, face, speaker)


@dataclass(frozen=True)
class Wait:
    """Lets the call run this long (virtual seconds under tests/support/virtual_time.py)."""

    seconds: float


@dataclass(frozen=True)
class Pause:
    """The caller fell silent mid-turn with these words recognised so far."""

    text: str


Frame = SpeechStarted | PartialTranscript | UserTurn | Wait | Pause


async def run_frames(
    frames: Sequence[Frame],
    replies: dict[str, str],
    *,
    start_script: str | None = None,
    tools: tuple[ToolSpec, ...] = (),
    synthesizer: Any = None,
) -> Call:
    """Frames in, as the hearing stage hands them on; the call runs until the avatar's turn
    is over and is then ended. What came out is on the returned call: `transport.sent` (the
    data channel), `transcript`, `face`, the session's history and metrics."""
    call = await make_call(
        replies, start_script=start_script, tools=tools, synthesizer=synthesizer
    ).start()
    await call.until_listening()
    for frame in frames:
        if isinstance(frame, Wait):
            await asyncio.sleep(frame.seconds)
        elif isinstance(frame, Pause):
            await call.session.hear(PartialTranscript(frame.text, call.clock.now()), True)
        else:
            await call.session.hear(frame, False)
    await call.until_listening()
    await call.stop()
    return call


def _no_detector(start_s: float) -> Any:
    raise AssertionError("stage tests hand the session its caller's frames directly")


def tool_call_markup(name: str, arguments: dict[str, Any]) -> str:
    import json

    return f"<call>{json.dumps({'name': name, 'arguments': arguments})}</call>"


__all__ = [
    "Call",
    "FakeModel",
    "FakeTranscript",
    "Pause",
    "ToolCall",
    "Wait",
    "make_call",
    "run_frames",
    "tool_call_markup",
]
