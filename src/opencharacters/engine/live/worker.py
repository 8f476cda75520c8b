"""One live call: caller audio in; the avatar listens, thinks and answers with voice and face.

    caller audio ─► turn detector + ASR (Listener) ─► Conversation (LLM) ─► TTS
        ─► Speaker (audio on the session clock) + FaceAnimator (frames on the same clock)
        ─► recorder, transcript, data channel

Everything the avatar says is scheduled on the session clock before it is heard, so the face, the
words sent to the caller and the stored transcript all line up with the sound. A caller who speaks
over the avatar (barge-in) cancels the answer at every stage at once: generation, synthesis,
queued audio, the mouth, and the words not yet heard."""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import av
import numpy as np

from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import DEFAULT_FPS, FaceAnimator, VideoFrame
from opencharacters.dialogue.chunker import chunk_text
from opencharacters.dialogue.conversation import Conversation, ReplyRecord
from opencharacters.dialogue.routing import ActionRouter
from opencharacters.dialogue.tools import (
    InvalidArguments,
    ToolCall,
    ToolOutcome,
    ToolRecord,
    ToolSpec,
    check_arguments,
)
from opencharacters.engine.live import channel as messages
from opencharacters.engine.live.captions import SpokenReply, TimedWord
from opencharacters.engine.live.channel import CallChannel
from opencharacters.engine.live.clock import SessionClock
from opencharacters.engine.live.engines import EngineLoader, SharedEngines
from opencharacters.engine.live.speaker import PLAYOUT_RATE, Speaker
from opencharacters.engine.live.tracks import AvatarAudioTrack, AvatarVideoTrack
from opencharacters.engine.recording import CallRecorder
from opencharacters.engine_settings import EngineSettings
from opencharacters.speech.audio import AudioChunk, Samples, resample
from opencharacters.speech.engines import load_turn_detector
from opencharacters.speech.listener import Listener, PartialTranscript, SpeechStarted, UserTurn
from opencharacters.speech.tts import PhonemeTiming, Voice

log = logging.getLogger(__name__)

CALLER_RATE = 16_000
GOODBYE = "I'm sorry, we're out of time for today. Thank you for talking with me. Goodbye!"
GOODBYE_LEAD_S = 6.0
FILLER = "One moment, let me check."
KNOWLEDGE_TIMEOUT_S = 0.5
RELEVANT_SHARE = 0.6
"""Knowledge passages scoring under this share of the best one are left out."""
CALLER_SILENT_TIMEOUT_S = 10.0
"""No audio packet from the caller for this long (browsers send them even in silence): gone."""
_MOUTH_MOVING = 0.05
"""Jaw opening from which a frame counts as showing speech."""
_NEVER = 1_000_000
"""A first-clause length no sentence reaches: cut at sentence ends only."""
"""The goodbye starts this long before maxDuration, so the call ends within it."""


Segment = tuple[Samples, tuple[PhonemeTiming, ...]]
"""Synthesized speech at the playout rate and its phoneme timings."""


class Outcome(enum.Enum):
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Ending:
    outcome: Outcome
    reason: str
    failure: str | None = None
    failure_code: str | None = None


@dataclass(frozen=True, slots=True)
class CallSpec:
    """What the worker needs to know about the session and its avatar."""

    session_id: str
    organization_id: str
    rig_json: bytes
    voice: Voice
    """A preset id or a custom voice's design."""
    personality: str
    start_script: str | None
    max_duration_s: int
    fps: int = DEFAULT_FPS
    tools: tuple[ToolSpec, ...] = ()
    avatar_id: str = ""


@dataclass(slots=True)
class TurnTimings:
    """Where a turn's latency went, on the session clock (for the data channel and bench/)."""

    turn: int
    speech_end_s: float
    turn_end_s: float
    asr_wait_s: float
    first_text_s: float | None = None
    first_audio_scheduled_s: float | None = None
    first_audio_heard_s: float | None = None
    first_mouth_frame_s: float | None = None
    speculated: bool = False
    notes: list[dict[str, Any]] = field(default_factory=list)
    """Where the knowledge passages given to the model came from."""
    action_score: float | None = None
    """Sessions with actions: call probability + closeness to the nearest action."""

    def as_json(self) -> dict[str, Any]:
        def rel(at: float | None) -> float | None:
            return None if at is None else round(at - self.speech_end_s, 4)

        return {
            "turn": self.turn,
            "speechEndS": round(self.speech_end_s, 4),
            "endOfTurnWaitS": rel(self.turn_end_s),
            "asrWaitS": round(self.asr_wait_s, 4),
            "firstClauseS": rel(self.first_text_s),
            "firstAudioScheduledS": rel(self.first_audio_scheduled_s),
            "firstAudioS": rel(self.first_audio_heard_s),
            "firstMouthFrameS": rel(self.first_mouth_frame_s),
            "speculated": self.speculated,
            "notes": self.notes,
            "actionScore": None if self.action_score is None else round(self.action_score, 3),
        }


class TranscriptSink(Protocol):
    """Where the worker writes what was said: the store, as the call goes (see calls.py)."""

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None: ...


class Knowledge(Protocol):
    """The avatar's documents (dialogue/knowledge): warmed at the start, searched every turn."""

    async def warm(self) -> None: ...

    async def search(self, query: str) -> Sequence[Any]: ...


class ToolRunner(Protocol):
    """Runs `backend_rpc` calls on the developer's backend attached to the session."""

    async def call(
        self, session_id: str, method: str, args: dict[str, Any], timeout_s: float
    ) -> ToolOutcome: ...


@dataclass(slots=True)
class _Reply:
    turn: int
    task: asyncio.Task[None] | None = None
    spoken: SpokenReply = field(default_factory=SpokenReply)
    recorded: bool = False
    is_script: bool = False
    timings: TurnTimings | None = None
    fully_scheduled: bool = False
    """Every word of the reply has been synthesized and scheduled."""
    user_text: str | None = None
    """The caller's turn this answers (None for the start script and the goodbye)."""
    speculation: _Speculation | None = None
    turn_recorded: bool = False
    """The caller's turn (and what was produced) entered the dialogue history."""
    tools: list[ToolRecord] = field(default_factory=list)
    """Actions the model took for this reply, with their results."""

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def settle(self) -> None:
        """Waits for the reply's task to finish, whatever the outcome (it reports its own)."""
        if self.task is not None:
            await asyncio.wait({self.task})


@dataclass(slots=True)
class _Speculation:
    """A reply started on the caller's words so far, before the turn detector was sure they
    had finished. Kept when the final transcript matches, dropped otherwise."""

    text: str
    chunks: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    record: ReplyRecord = field(default_factory=ReplyRecord)
    task: asyncio.Task[Any] | None = None
    first_text_s: float | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)


class SessionWorker:
    def __init__(
        self,
        spec: CallSpec,
        *,
        engines: EngineLoader,
        engine_settings: EngineSettings,
        clock: SessionClock,
        transcript: TranscriptSink,
        recorder: CallRecorder | None = None,
        tool_backend: ToolRunner | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self._engines = engines
        self._settings = engine_settings
        self._transcript = transcript
        self.recorder = recorder
        self._tool_backend = tool_backend
        self._knowledge = knowledge
        self.speaker = Speaker(self.clock.now)
        rig = FaceRig.from_json(spec.rig_json)
        self.frame_size = rig.size
        self.animator = FaceAnimator(rig, fps=spec.fps)
        self.channel = CallChannel(spec.session_id, self._end_call_requested)
        self.audio_track = AvatarAudioTrack(self.clock.now, self.speaker, self._audio_played)
        self.video_track = AvatarVideoTrack(self.clock.now, self.animator, self._frame_shown)
        self._caller_audio: asyncio.Queue[AudioChunk | None] = asyncio.Queue(maxsize=500)
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self.ending: Ending | None = None
        self._turn = 0
        self._reply: _Reply | None = None
        self._captions: asyncio.Queue[tuple[int, TimedWord]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self._conversation: Conversation | None = None
        self._persona_ready: asyncio.Task[None] | None = None
        self._shared: SharedEngines | None = None
        self._state = ""
        self.turn_timings: list[TurnTimings] = []
        self._awaiting_mouth: TurnTimings | None = None
        self._speculation: _Speculation | None = None
        self._caller_audio_at: float | None = None
        self._captions_task: asyncio.Task[Any] | None = None
        self.connected_at_s: float | None = None
        self.barge_ins: list[dict[str, float]] = []

    # ----- transport callbacks -------------------------------------------------------------

    def connection_state_changed(self, state: str) -> None:
        if state == "connected" and not self._connected.is_set():
            self.connected_at_s = self.clock.now()
            self._connected.set()
        elif state in ("failed", "closed"):
            self.end(Ending(Outcome.COMPLETED, "the caller left"))

    def caller_track(self, track: Any) -> None:
        if track.kind == "audio":
            self._spawn(self._read_caller_audio(track), "caller-audio")
        else:
            self._spawn(_drain(track), "caller-video")  # accepted, not used yet

    def end(self, ending: Ending) -> None:
        """Asks the call to end; the first reason given wins."""
        if self.ending is None:
            self.ending = ending
            self._ended.set()

    def _end_call_requested(self) -> None:
        self.end(Ending(Outcome.COMPLETED, "END_CALL"))

    # ----- the call --------------------------------------------------------------------------

    async def wait_connected(self, timeout_s: float) -> bool:
        connected = asyncio.ensure_future(self._connected.wait())
        ended = asyncio.ensure_future(self._ended.wait())
        try:
            await asyncio.wait({connected, ended}, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            connected.cancel()
            ended.cancel()
        return self._connected.is_set() and not self._ended.is_set()

    async def converse(self) -> None:
        """Runs the call until something ends it (see `end`)."""
        self._shared = await self._engines.get()
        router = None
        if self.spec.tools and self._shared.embedder is not None:
            router = await asyncio.to_thread(ActionRouter, self._shared.embedder, self.spec.tools)
        self._conversation = Conversation(
            self._shared.dialogue,
            self.spec.personality,
            self._settings.dialogue,
            tools=self.spec.tools,
            router=router,
        )
        self._persona_ready = self._spawn(self._conversation.prepare(), "persona")
        if self._knowledge is not None:
            self._spawn(self._warm_knowledge(self._knowledge), "knowledge")
        self._captions_task = self._spawn(self._send_captions(), "captions")
        self._spawn(self._listen(), "listen")
        self._spawn(self._limit_duration(), "max-duration")
        self._spawn(self._watch_caller_media(), "media-watchdog")
        if self.spec.start_script:
            self._start_reply(self._speak_script(self.spec.start_script), is_script=True)
        else:
            self._set_state("listening")
        await self._ended.wait()

    async def shutdown(self) -> None:
        """Stops every stage and records what was heard of an answer cut short by the end."""
        reply = self._reply
        self._reply = None
        cut = self.speaker.clear()
        for task in self._tasks:
            task.cancel()
        if reply is not None:
            reply.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if reply is not None:
            await reply.settle()
            await self._record_reply(reply, cut, interrupted=True)
        self.audio_track.stop()
        self.video_track.stop()

    # ----- caller side -----------------------------------------------------------------------

    async def _read_caller_audio(self, track: Any) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=CALLER_RATE)
        first: tuple[int, float] | None = None
        while True:
            try:
                frame = await track.recv()
            except Exception:  # MediaStreamError: the caller's track ended
                return
            arrived = self.clock.now()
            self._caller_audio_at = arrived
            if first is None or frame.pts is None:
                first = (frame.pts or 0, arrived - frame.samples / frame.sample_rate)
            start_s = first[1] + ((frame.pts or 0) - first[0]) / frame.sample_rate
            recorded_at = self._recording_at(start_s)
            if self.recorder is not None and recorded_at is not None:
                stereo = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                mono = stereo.mean(axis=1).astype(np.float32) / 32768.0
                self.recorder.add_caller_audio(mono, frame.sample_rate, recorded_at)
            for out in resampler.resample(frame):
                pcm = out.to_ndarray().reshape(-1).astype(np.float32) / 32768.0
                chunk = AudioChunk(pcm, CALLER_RATE, start_s)
                try:
                    self._caller_audio.put_nowait(chunk)
                except asyncio.QueueFull:
                    log.warning("session %s: caller audio backlog, dropping", self.spec.session_id)

    async def _caller_chunks(self) -> AsyncIterator[AudioChunk]:
        while (chunk := await self._caller_audio.get()) is not None:
            yield chunk

    async def _listen(self) -> None:
        assert self._shared is not None
        first = await self._caller_audio.get()
        if first is None:
            return
        detector = await asyncio.to_thread(load_turn_detector, self._settings, first.timestamp_s)
        listener = Listener(detector, self._shared.recognizer, self._settings.asr)

        async def audio() -> AsyncIterator[AudioChunk]:
            yield first
            async for chunk in self._caller_chunks():
                yield chunk

        async for event in listener.listen(audio()):
            if isinstance(event, SpeechStarted):
                self._caller_started_speaking(event.time_s)
            elif isinstance(event, UserTurn):
                await self._caller_turn(event)
            elif isinstance(event, PartialTranscript) and detector.silence_started:
                # The caller paused: start thinking about what they said so far, while the
                # turn detector waits to be sure they are done.
                self._speculate(event.text)

    def _caller_started_speaking(self, speech_start_s: float) -> None:
        reply = self._reply
        if reply is None:
            return
        if reply.spoken.start_s is None and not reply.is_script:
            # Still thinking: the caller is adding to what they said; answer the new turn.
            # Nothing was heard, so nothing of this answer stays in the history.
            reply.cancel()
            self._reply = None
            self._spawn(self._finish_interrupted(reply, self.speaker.position_s), "interrupted")
            self._set_state("listening")
            return
        detected = self.clock.now()
        cut = self.speaker.clear()
        self.animator.interrupt()
        reply.cancel()
        self._reply = None
        self._drop_captions()
        heard = reply.spoken.heard_by(cut)
        self.barge_ins.append(
            {"speechStartS": speech_start_s, "detectedS": detected, "silencedS": cut}
        )
        self.channel.send(
            {
                "type": messages.EVENT_INTERRUPTED,
                "turn": reply.turn,
                "heard": heard,
                "speechStartS": round(speech_start_s, 4),
                "detectedS": round(detected, 4),
                "silencedS": round(cut, 4),
            }
        )
        self._spawn(self._finish_interrupted(reply, cut), "interrupted")
        self._set_state("listening")

    async def _finish_interrupted(self, reply: _Reply, cut_s: float) -> None:
        await reply.settle()
        await self._record_reply(reply, cut_s, interrupted=True)

    def _speculate(self, text: str) -> None:
        text = text.strip()
        if not text or self._reply is not None or self._conversation is None:
            return
        if self.spec.tools:
            return  # a speculative reply must never fire an action the caller did not finish

        current = self._speculation
        if current is not None:
            if current.text == text:
                return
            self._drop_speculation()
        speculation = _Speculation(text)
        conversation, persona_ready = self._conversation, self._persona_ready

        async def think() -> None:
            if persona_ready is not None:
                await persona_ready
            notes = await self._notes_for(text)
            speculation.notes = [_note_source(note) for note in notes]
            source = conversation.reply(text, notes, record=False, into=speculation.record)
            try:
                async for chunk in source:
                    if speculation.first_text_s is None:
                        speculation.first_text_s = self.clock.now()
                    speculation.chunks.put_nowait(chunk)
            finally:
                await source.aclose()
                speculation.chunks.put_nowait(None)

        speculation.task = self._spawn(think(), "speculation")
        self._speculation = speculation

    def _drop_speculation(self) -> None:
        if self._speculation is not None:
            if self._speculation.task is not None:
                self._speculation.task.cancel()
            self._speculation = None

    def _take_speculation(self, text: str) -> _Speculation | None:
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return None
        if speculation.text != text or speculation.task is None:
            if speculation.task is not None:
                speculation.task.cancel()
            return None
        return speculation

    async def _caller_turn(self, event: UserTurn) -> None:
        text = event.text.strip()
        if not text:
            self._drop_speculation()
            return
        speculation = self._take_speculation(text)
        self._turn += 1
        turn = self._turn
        self.channel.send(messages.transcription("user", turn, text))
        await self._transcript.entry("user", text, event.speech_start_s)
        timings = TurnTimings(turn + 1, event.speech_end_s, event.turn_end_s, event.asr_wait_s)
        self.turn_timings.append(timings)
        timings.speculated = speculation is not None
        self._start_reply(self._answer(text, speculation), timings=timings)
        assert self._reply is not None
        self._reply.user_text = text
        self._reply.speculation = speculation

    # ----- avatar side -----------------------------------------------------------------------

    def _start_reply(
        self,
        speech: Callable[[_Reply], Any],
        *,
        is_script: bool = False,
        timings: TurnTimings | None = None,
    ) -> None:
        self._turn += 1
        reply = _Reply(self._turn, is_script=is_script, timings=timings)
        reply.task = asyncio.ensure_future(self._run_reply(reply, speech))
        self._reply = reply

    async def _run_reply(self, reply: _Reply, speech: Callable[[_Reply], Any]) -> None:
        self._set_state("thinking")
        try:
            await speech(reply)
            reply.fully_scheduled = True
            # Everything is scheduled: wait until it has been heard, then listen again.
            await self._sleep_until(self.speaker.queued_until_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("session %s: answering failed", self.spec.session_id)
            self.end(
                Ending(
                    Outcome.FAILED,
                    "a stage failed",
                    failure=f"The avatar could not answer: {type(exc).__name__}: {exc}"[:500],
                    failure_code="PIPELINE_ERROR",
                )
            )
            return
        if reply.timings is not None:
            self.channel.send({"type": messages.EVENT_TURN, **reply.timings.as_json()})
        if self._reply is reply:
            self._reply = None
            self._set_state("listening")
        await self._record_reply(reply, self.speaker.position_s, interrupted=False)

    def _speak_script(self, text: str) -> Callable[[_Reply], Any]:
        async def speak(reply: _Reply) -> None:
            await self._say(reply, _one(text))
            if self._conversation is not None:
                self._conversation.add_assistant_line(text)

        return speak

    def _answer(self, user_text: str, speculation: _Speculation | None) -> Callable[[_Reply], Any]:
        """The reply to a caller's turn: generated now, or the speculative one already under
        way. Whatever happens to it, the turn enters the history with the text produced (a
        barge-in then trims that to what was heard)."""

        async def answer(reply: _Reply) -> None:
            conversation = self._conversation
            assert conversation is not None
            record = speculation.record if speculation is not None else ReplyRecord()
            try:
                if speculation is not None:
                    if reply.timings is not None:
                        reply.timings.first_text_s = speculation.first_text_s
                        reply.timings.notes = speculation.notes
                    await self._say(reply, _drain_queue(speculation.chunks))
                else:
                    if self._persona_ready is not None:
                        await self._persona_ready
                    notes = await self._notes_for(user_text)
                    if reply.timings is not None:
                        reply.timings.notes = [_note_source(note) for note in notes]
                    chunks = conversation.reply(
                        user_text,
                        notes,
                        record=False,
                        into=record,
                        run_tool=self._tool_runner(reply) if self.spec.tools else None,
                    )
                    await self._say(reply, chunks)
                    if reply.timings is not None:
                        reply.timings.action_score = conversation.last_action_score
            finally:
                if speculation is not None and speculation.task is not None:
                    speculation.task.cancel()
                    await asyncio.wait({speculation.task})
                conversation.record_turn(user_text, record)
                reply.turn_recorded = True

        return answer

    def _tool_runner(self, reply: _Reply) -> Callable[[ToolCall], Awaitable[ToolOutcome]]:
        async def run(call: ToolCall) -> ToolOutcome:
            tool = next(t for t in self.spec.tools if t.name == call.name)
            try:
                checked = ToolCall(call.id, call.name, check_arguments(tool, call.arguments))
            except InvalidArguments as exc:
                # Never forwarded: the model hears why and tells the caller it could not do it.
                record = ToolRecord(call, ToolOutcome(error=f"invalid arguments: {exc}"))
                reply.tools.append(record)
            else:
                # On the reply before it runs: a barge-in mid-call still leaves it on record.
                record = ToolRecord(checked)
                reply.tools.append(record)
                record.outcome = await self._run_tool(reply, tool, checked)
            self.channel.send(
                {"type": messages.EVENT_TOOL, **record.call_json(), **record.result_json()}
            )
            return record.outcome

        return run

    async def _run_tool(self, reply: _Reply, tool: ToolSpec, call: ToolCall) -> ToolOutcome:
        if tool.type == "client_event":
            started = time.perf_counter()
            self.channel.send(messages.client_event(tool.name, call.arguments))
            elapsed = round((time.perf_counter() - started) * 1000, 1)
            return ToolOutcome(result={"status": "event_sent"}, duration_ms=elapsed)
        if self._tool_backend is None:
            return ToolOutcome(error="no backend is connected to this session", duration_ms=0.0)
        # A short filler while the backend works, so the caller is not left in silence.
        filler = asyncio.ensure_future(self._say_sentence(reply, FILLER))
        try:
            return await self._tool_backend.call(
                self.spec.session_id, tool.name, call.arguments, tool.timeout_s
            )
        finally:
            await asyncio.wait({filler})

    async def _say(self, reply: _Reply, chunks: AsyncIterator[str]) -> None:
        timings = reply.timings
        try:
            async for text in chunks:
                if timings is not None and timings.first_text_s is None:
                    timings.first_text_s = self.clock.now()
                # Sentence by sentence, so each sentence's words are timed as soon as it is
                # synthesized, while the previous one is still playing.
                for sentence in chunk_text([text], first_clause_min_words=_NEVER):
                    await self._say_sentence(reply, sentence)
        finally:
            # Cancelled mid-sentence (barge-in): stop the model now and let the conversation
            # record what it produced before anyone trims it to what was heard.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _say_sentence(self, reply: _Reply, text: str) -> None:
        assert self._shared is not None
        synthesizer = self._shared.synthesizer
        iterator = synthesizer.segments(text, self.spec.voice)

        def next_segment() -> Segment | None:
            item = next(iterator, None)
            if item is None:
                return None
            return resample(item[0], synthesizer.sample_rate, PLAYOUT_RATE), item[1]

        async def synthesized() -> AsyncIterator[Segment]:
            while (segment := await asyncio.to_thread(next_segment)) is not None:
                yield segment

        await self._play(reply, text, synthesized())

    async def _play(self, reply: _Reply, text: str, segments: AsyncIterator[Segment]) -> None:
        """Schedules a sentence's audio (at the playout rate) as it arrives, then times its
        words."""
        rate = PLAYOUT_RATE
        timings = reply.timings
        first_start: float | None = None
        last_end = 0.0
        async for samples, phonemes in segments:
            start, end = self.speaker.schedule(samples, rate)
            self.animator.push_audio(AudioChunk(samples, rate, start), phonemes)
            if timings is not None and timings.first_audio_scheduled_s is None:
                timings.first_audio_scheduled_s = self.clock.now()
                timings.first_audio_heard_s = start
                self._awaiting_mouth = timings
            if first_start is None:
                first_start = start
                if reply.spoken.start_s is None:
                    self._spawn(self._speaking_at(start), "speaking-state")
            last_end = end
        if first_start is not None:
            for word in reply.spoken.add(text, first_start, last_end):
                self._captions.put_nowait((reply.turn, word))

    def _synthesize_now(self, text: str) -> list[tuple[str, list[Segment]]]:
        """Whole sentences synthesized ahead (blocking): lines that must play without delay."""
        assert self._shared is not None
        synthesizer = self._shared.synthesizer
        rate = synthesizer.sample_rate
        return [
            (
                sentence,
                [
                    (resample(audio, rate, PLAYOUT_RATE), phonemes)
                    for audio, phonemes, _ in synthesizer.segments(sentence, self.spec.voice)
                ],
            )
            for sentence in chunk_text([text], first_clause_min_words=_NEVER)
        ]

    def _speak_prepared(self, lines: list[tuple[str, list[Segment]]]) -> Callable[[_Reply], Any]:
        async def speak(reply: _Reply) -> None:
            for sentence, segments in lines:
                await self._play(reply, sentence, _iterate(segments))
            if self._conversation is not None:
                self._conversation.add_assistant_line(" ".join(s for s, _ in lines))

        return speak

    async def _speaking_at(self, at_s: float) -> None:
        await self._sleep_until(at_s)
        if self._reply is not None:
            self._set_state("speaking")

    async def _record_reply(self, reply: _Reply, until_s: float, *, interrupted: bool) -> None:
        if reply.recorded:
            return
        reply.recorded = True
        if reply.user_text is not None and not reply.turn_recorded:
            # Cancelled before it started: the caller's words still belong in the history.
            if reply.speculation is not None and reply.speculation.task is not None:
                reply.speculation.task.cancel()
            if self._conversation is not None:
                self._conversation.record_turn(reply.user_text, ReplyRecord())
            reply.turn_recorded = True
        heard = reply.spoken.heard_by(until_s)
        complete = reply.fully_scheduled and heard == reply.spoken.text
        if interrupted and self._conversation is not None and not reply.is_script:
            self._conversation.keep_heard(heard)
        elif interrupted and reply.is_script and heard and self._conversation is not None:
            self._conversation.add_assistant_line(heard)
        if reply.tools and (not heard or reply.spoken.start_s is None):
            # An action without words heard (cut off, or said nothing): still on the record.
            at = reply.spoken.start_s if reply.spoken.start_s is not None else self.clock.now()
            await self._transcript.entry(
                "assistant", heard or None, at, interrupted=interrupted, tools=reply.tools
            )
            return
        if not heard or reply.spoken.start_s is None:
            return
        await self._transcript.entry(
            "assistant",
            heard,
            reply.spoken.start_s,
            interrupted=interrupted and not complete,
            tools=reply.tools,
        )

    async def _send_captions(self) -> None:
        while True:
            turn, word = await self._captions.get()
            await self._sleep_until(word.at_s)
            self.channel.send(messages.transcription("assistant", turn, word.text))

    def _drop_captions(self) -> None:
        while not self._captions.empty():
            self._captions.get_nowait()
        # The caption task may be asleep on a word that will not be heard: restart it.
        if self._captions_task is not None:
            self._captions_task.cancel()
        self._captions_task = self._spawn(self._send_captions(), "captions")

    async def _warm_knowledge(self, knowledge: Knowledge) -> None:
        try:
            await knowledge.warm()
        except Exception:  # answers go on without notes; each turn retries the search
            log.exception(
                "session %s: indexing the avatar's documents failed", self.spec.session_id
            )

    async def _notes_for(self, text: str) -> Sequence[Any]:
        """Knowledge passages for the caller's words; none when retrieval is slow or fails (a
        late answer is worse than one without notes)."""
        if self._knowledge is None:
            return ()
        try:
            found = await asyncio.wait_for(self._knowledge.search(text), KNOWLEDGE_TIMEOUT_S)
            # Passages far behind the best one mostly distract a small model.
            best = max((getattr(p, "score", 0.0) for p in found), default=0.0)
            return [p for p in found if getattr(p, "score", 0.0) >= RELEVANT_SHARE * best]
        except TimeoutError:
            log.warning(
                "session %s: knowledge search too slow; answering without", self.spec.session_id
            )
        except Exception:
            log.exception("session %s: knowledge search failed", self.spec.session_id)
        return ()

    async def _watch_caller_media(self) -> None:
        """A caller whose media stopped (tab closed, network gone) ends the call at once
        instead of after ICE's 30-45 s consent timeout."""
        while True:
            await asyncio.sleep(1.0)
            last = self._caller_audio_at
            if last is not None and self.clock.now() - last > CALLER_SILENT_TIMEOUT_S:
                self.end(Ending(Outcome.COMPLETED, "the caller's media stopped"))
                return

    async def _limit_duration(self) -> None:
        started = self.clock.now()
        # Ready before it is needed: a busy machine must not make the goodbye late.
        goodbye_lines = await asyncio.to_thread(self._synthesize_now, GOODBYE)
        await self._sleep_until(started + self.spec.max_duration_s - GOODBYE_LEAD_S)
        reply = self._reply
        if reply is not None:
            cut = self.speaker.clear()
            self.animator.interrupt()
            reply.cancel()
            self._reply = None
            self._drop_captions()
            self._spawn(self._finish_interrupted(reply, cut), "interrupted")
        self._start_reply(self._speak_prepared(goodbye_lines), is_script=True)
        goodbye = self._reply
        deadline = started + self.spec.max_duration_s - 0.5
        assert goodbye is not None and goodbye.task is not None
        await asyncio.wait({goodbye.task}, timeout=max(0.1, deadline - self.clock.now()))
        self.end(Ending(Outcome.COMPLETED, "maxDuration reached"))

    # ----- helpers ---------------------------------------------------------------------------

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.channel.send({"type": messages.EVENT_STATE, "state": state})

    async def _sleep_until(self, at_s: float) -> None:
        wait = at_s - self.clock.now()
        if wait > 0:
            await asyncio.sleep(wait)

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        task.set_name(f"{self.spec.session_id}:{name}")
        task.add_done_callback(self._task_done)
        self._tasks = [t for t in self._tasks if not t.done()]
        self._tasks.append(task)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("session %s: %s failed", self.spec.session_id, task.get_name(), exc_info=exc)
        self.end(
            Ending(
                Outcome.FAILED,
                "a stage failed",
                failure=f"{task.get_name().split(':')[-1]} failed: {type(exc).__name__}: {exc}"[
                    :500
                ],
                failure_code="PIPELINE_ERROR",
            )
        )

    def _recording_at(self, at_s: float) -> float | None:
        """Where a session-clock instant falls in the recording (None: not recorded). The
        recording starts when the call connects, as the session's duration does."""
        origin = self.connected_at_s
        if origin is None or at_s < origin:
            return None
        return at_s - origin

    def recording_duration_s(self) -> float:
        return 0.0 if self.connected_at_s is None else self.clock.now() - self.connected_at_s

    def _audio_played(self, samples: Samples, at_s: float) -> None:
        if self.audio_track.frames_sent == 0:
            self.channel.send(
                {
                    "type": messages.EVENT_CLOCK,
                    "monotonicOrigin": self.clock.monotonic_origin,
                    "firstAudioS": at_s,
                }
            )
        recorded_at = self._recording_at(at_s)
        if self.recorder is not None and recorded_at is not None:
            self.recorder.add_avatar_audio(samples, PLAYOUT_RATE, recorded_at)

    def _frame_shown(self, frame: VideoFrame) -> None:
        if self.video_track.frames_sent == 0:
            # Lets a client on the same host turn frame timestamps into one-way delays.
            self.channel.send(
                {
                    "type": messages.EVENT_CLOCK,
                    "monotonicOrigin": self.clock.monotonic_origin,
                    "firstFrameS": frame.timestamp_s,
                }
            )
        awaiting = self._awaiting_mouth
        if awaiting is not None and frame.params.jaw > _MOUTH_MOVING:
            awaiting.first_mouth_frame_s = frame.timestamp_s
            self._awaiting_mouth = None
        recorded_at = self._recording_at(frame.timestamp_s)
        if self.recorder is not None and recorded_at is not None:
            self.recorder.add_video_frame(frame.image, recorded_at)

    def stats(self) -> dict[str, Any]:
        return {
            "audioFramesSent": self.audio_track.frames_sent,
            "videoFramesSent": self.video_track.frames_sent,
            "firstFrameAfterConnectS": (
                None
                if self.video_track.first_frame_s is None or self.connected_at_s is None
                else round(self.video_track.first_frame_s - self.connected_at_s, 4)
            ),
            "turns": [t.as_json() for t in self.turn_timings],
            "bargeIns": self.barge_ins,
        }


async def _one(text: str) -> AsyncIterator[str]:
    yield text


def _note_source(note: Any) -> dict[str, Any]:
    return {
        "document": getattr(note, "document_name", None),
        "headings": list(getattr(note, "headings", ())),
    }


async def _drain_queue(chunks: asyncio.Queue[str | None]) -> AsyncIterator[str]:
    while (chunk := await chunks.get()) is not None:
        yield chunk


async def _iterate(segments: list[Segment]) -> AsyncIterator[Segment]:
    for segment in segments:
        yield segment


async def _drain(track: Any) -> None:
    while True:
        try:
            await track.recv()
        except Exception:
            return
