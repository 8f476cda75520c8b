"""One live call: the pipeline of stages, and the turn taking that conducts it.

    caller audio ─► Hearing (turn detector + streaming ASR)
        ─► Thinking (conversation, knowledge, speculation) + Actions (the session's tools)
        ─► AvatarVoice (TTS ─► Speaker on the session clock + face animation, same instants)
        ─► HeardWords (each word when it is heard) ─► data channel, TranscriptWriter
        ─► CallerEvents, CallMetrics, RecordingFeed

Everything the avatar says is scheduled on the session clock before it is heard, so the face,
the words sent to the caller and the stored transcript all line up with the sound.

Turn taking, the one state table of the call:

    state       event                              → state       action
    listening   the caller's turn ends             → thinking    answer it (or the speculation)
    thinking    first audio of the answer heard    → speaking
    thinking    the caller speaks again            → listening   Interruption(RETRACTED)
    listening   a retracted turn's sequel has no   → thinking    answer the retracted words
                words (a cough, a noise, an "um")
    listening   a barge-in's turn has no words     → thinking    the cut answer goes on, from
                (a cough, "oh", "hmm")                           the sentence it was cut in
    speaking    the caller speaks (barge-in)       → listening   Interruption(BARGE_IN)
    speaking    the answer has been heard          → listening
    any         maxDuration - 6 s                  → speaking    Interruption(TIME_UP), goodbye

An Interruption is one frame given to every stage in `stages`; each drops what belongs to the
cut turn (audio at the frame being sent, mouth, queued words, speculation) and the turn is
then recorded with exactly the words heard."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from opencharacters.animation.stream import VideoFrame
from opencharacters.dialogue.chunker import chunk_text
from opencharacters.dialogue.conversation import ReplyRecord
from opencharacters.dialogue.tools import (
    ToolRecord,
)
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples
from opencharacters.pipeline import channel as messages
from opencharacters.pipeline.actions import Actions, RunTool
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.captions import SpokenReply
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.events import CallerEvents
from opencharacters.pipeline.fillers import holds_words
from opencharacters.pipeline.frames import (
    Interruption,
    InterruptionCause,
    ListenerEvent,
    SpeechStarted,
    UserTurn,
)
from opencharacters.pipeline.heard import HeardWords
from opencharacters.pipeline.hearing import Hearing
from opencharacters.pipeline.metrics import CallMetrics, TurnTimings
from opencharacters.pipeline.ports import (
    CallerTransport,
    CallRecording,
    FaceAnimation,
    Knowledge,
    ModelSource,
    ToolRunner,
    TranscriptSink,
    TurnDetection,
)
from opencharacters.pipeline.recording_feed import RecordingFeed
from opencharacters.pipeline.resumption import cut_answer
from opencharacters.pipeline.speaker import PLAYOUT_RATE, Speaker
from opencharacters.pipeline.stage import Stage, StageTasks
from opencharacters.pipeline.thinking import Speculation, Thinking, note_source
from opencharacters.pipeline.transcript import TranscriptWriter
from opencharacters.pipeline.voice import AvatarVoice, PreparedLine, Segment
from opencharacters.pipeline.waits import connected_before_end

log = logging.getLogger(__name__)

GOODBYE = "I'm sorry, we're out of time for today. Thank you for talking with me. Goodbye!"
GOODBYE_LEAD_S = 6.0
"""The goodbye starts this long before maxDuration, so the call ends within it."""
CALLER_SILENT_TIMEOUT_S = 10.0
"""No audio packet from the caller for this long (browsers send them even in silence): gone."""
_NEVER = 1_000_000
"""A first-clause length no sentence reaches: cut at sentence ends only."""


@dataclass(slots=True)
class Reply:
    """One turn of the avatar, from thinking to heard."""

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
    speculation: Speculation | None = None
    turn_recorded: bool = False
    """The turn is in the dialogue history (an answer: the caller's words and what was
    produced; a script: its words, entered as it starts); a cut trims it to what was heard."""
    tools: list[ToolRecord] = field(default_factory=list)
    """Actions the model took for this reply, with their results."""
    played: list[str] = field(default_factory=list)
    """The sentences scheduled, in order."""
    written: str | None = None
    """Everything the reply was to say, once known (None: it cannot be said again after a cut,
    like the goodbye)."""
    said_before: str = ""
    """A cut answer said again: the words of it heard before, which its history entry keeps
    ahead of what is heard now."""

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def settle(self) -> None:
        """Waits for the reply's task to finish, whatever the outcome (it reports its own)."""
        if self.task is not None:
            await asyncio.wait({self.task})


Speech = Callable[[Reply], Awaitable[None]]


class CallSession:
    def __init__(
        self,
        spec: CallSpec,
        *,
        models: ModelSource,
        engine_settings: EngineSettings,
        clock: SessionClock,
        transport: CallerTransport,
        speaker: Speaker,
        face: FaceAnimation,
        transcript: TranscriptSink,
        new_turn_detector: Callable[[float], TurnDetection],
        recorder: CallRecording | None = None,
        tool_backend: ToolRunner | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        self.transport = transport
        self._models = models
        self._new_turn_detector = new_turn_detector
        self.tasks = StageTasks(spec.session_id, self._stage_failed)

        self.hearing = Hearing(self._turn_detector, engine_settings.asr)
        self.thinking = Thinking(
            spec.session_id,
            spec.personality,
            spec.tools,
            engine_settings.dialogue,
            knowledge,
            clock.now,
            self.tasks,
        )
        self.actions = Actions(spec.session_id, spec.tools, transport.send, tool_backend)
        self.voice = AvatarVoice(speaker, face, spec.voice)
        self.transcript = TranscriptWriter(transcript)
        self.heard = HeardWords(clock.now, transport.send, [self.transcript.word_heard], self.tasks)
        self.events = CallerEvents(transport.send, clock.monotonic_origin)
        self.metrics = CallMetrics()
        self.recording = RecordingFeed(recorder)
        # The pipeline, in the order a turn flows through it. Every stage listed here receives
        # every Interruption: a new stage gets barge-in by being added to this list.
        self.stages: tuple[Stage, ...] = (
            self.hearing,
            self.thinking,
            self.actions,
            self.voice,
            self.heard,
            self.transcript,
            self.events,
            self.metrics,
            self.recording,
        )

        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self.ending: Ending | None = None
        self.connected_at_s: float | None = None
        self._turn = 0
        self._reply: Reply | None = None
        self._retracted: tuple[str, asyncio.Task[None]] | None = None
        """The caller's words whose answer was dropped when they went on speaking, and the task
        that settles that answer: answered after all when what followed held no words."""
        self._barged_in: tuple[Reply, str, asyncio.Task[None]] | None = None
        """The answer the caller's speech cut, the words heard of it, and the task that settles
        it: said again when that speech held no words."""

    # ----- control (the transport's CallControl) ---------------------------------------------

    def connected(self) -> None:
        if not self._connected.is_set():
            self.connected_at_s = self.clock.now()
            self.recording.origin_s = self.connected_at_s
            self._connected.set()

    def left(self, reason: str) -> None:
        self.end(Ending(Outcome.COMPLETED, reason))

    def end_requested(self, reason: str) -> None:
        self.end(Ending(Outcome.COMPLETED, reason))

    def lost(self, reason: str, failure_code: str) -> None:
        self.end(Ending(Outcome.FAILED, "the media path was lost", reason, failure_code))

    def end(self, ending: Ending) -> None:
        """Asks the call to end; the first reason given wins."""
        if self.ending is None:
            self.ending = ending
            self._ended.set()

    def _stage_failed(self, stage: str, exc: BaseException) -> None:
        failure = f"{stage} failed: {type(exc).__name__}: {exc}"[:500]
        self.end(Ending(Outcome.FAILED, "a stage failed", failure, "PIPELINE_ERROR"))

    # ----- media taps (what the transport sent or received) ----------------------------------

    def caller_audio_received(self, samples: Samples, sample_rate: int, at_s: float) -> None:
        self.recording.caller_audio(samples, sample_rate, at_s)

    def avatar_audio_sent(self, samples: Samples, at_s: float, first: bool) -> None:
        if first:
            self.events.first_media("firstAudioS", at_s)
        self.recording.avatar_audio(samples, PLAYOUT_RATE, at_s)

    def frame_sent(self, frame: VideoFrame, first: bool) -> None:
        if first:
            self.events.first_media("firstFrameS", frame.timestamp_s)
        self.metrics.frame_shown(frame)
        self.recording.video_frame(frame.image, frame.timestamp_s)

    # ----- the call ----------------------------------------------------------------------------

    async def wait_connected(self, timeout_s: float) -> bool:
        return await connected_before_end(self._connected, self._ended, timeout_s)

    async def converse(self) -> None:
        """Runs the call until something ends it (see `end`)."""
        models = await self._models.get()
        self.voice.use(models.synthesizer)
        await self.thinking.start(models.dialogue, models.embedder)
        self.heard.start()
        self.tasks.spawn(
            self.hearing.run(self.transport.caller_audio(), models.recognizer, self.hear),
            "listen",
        )
        self.tasks.spawn(self._limit_duration(), "max-duration")
        self.tasks.spawn(self._watch_caller_media(), "media-watchdog")
        if self.spec.start_script:
            self._start_reply(self._speak_script(self.spec.start_script), is_script=True)
        else:
            self.events.set_state("listening")
        await self._ended.wait()

    async def shutdown(self) -> None:
        """Stops every stage and records what was heard of an answer cut short by the end."""
        reply = self._reply
        self._reply = None
        cut = self.voice.speaker.clear()
        await self.tasks.cancel_all()
        if reply is not None:
            reply.cancel()
            await reply.settle()
            await self._record_reply(reply, cut, interrupted=True)
        self.transport.stop()

    async def _turn_detector(self, start_s: float) -> TurnDetection:
        return await asyncio.to_thread(self._new_turn_detector, start_s)

    # ----- the caller's side -------------------------------------------------------------------

    async def hear(self, event: ListenerEvent, paused: bool) -> None:
        """What the hearing stage heard; `paused`: the caller is silent mid-turn."""
        if isinstance(event, SpeechStarted):
            self.caller_started_speaking(event.time_s)
        elif isinstance(event, UserTurn):
            await self.caller_turn(event)
        elif paused and self._reply is None:
            # The caller paused: start thinking about what they said so far, while the turn
            # detector waits to be sure they are done.
            self.thinking.speculate(event.text)
        elif self._reply is None:
            # Still speaking: the model reads their words so far (little is left at the end).
            self.thinking.read_ahead(event.text)

    def caller_started_speaking(self, speech_start_s: float) -> None:
        reply = self._reply
        if reply is None:
            return
        if reply.spoken.start_s is None and not reply.is_script:
            # Still thinking: the caller is adding to what they said; answer the new turn.
            # Nothing was heard, so nothing of this answer stays in the history.
            cut = self.voice.position_s
            settled = self.interrupt(Interruption(InterruptionCause.RETRACTED, reply.turn, cut, ""))
            if settled is None:
                return
            if reply.user_text is not None:
                self._retracted = (reply.user_text, settled)
            else:  # a cut answer about to go on: it goes on after this sound too, if wordless
                self._barged_in = (reply, "", settled)
            return
        detected = self.clock.now()
        cut = self.voice.position_s  # where the speaker's clear() cuts: nothing runs between
        frame = Interruption(
            InterruptionCause.BARGE_IN,
            reply.turn,
            cut,
            reply.spoken.heard_by(cut),
            speech_start_s=speech_start_s,
            detected_s=detected,
        )
        settled = self.interrupt(frame)
        if settled is not None:
            self._barged_in = (reply, frame.heard, settled)

    def interrupt(self, frame: Interruption) -> asyncio.Task[None] | None:
        """Cuts the current turn at every stage at once, then records what was heard of it;
        returns the task that does that recording (None when no turn was under way)."""
        reply = self._reply
        self._reply = None
        if reply is not None:
            reply.cancel()
        for stage in self.stages:
            stage.interrupt(frame)
        if reply is None:
            return None
        return self.tasks.spawn(self._finish_interrupted(reply, frame.cut_s), "interrupted")

    async def _finish_interrupted(self, reply: Reply, cut_s: float) -> None:
        await reply.settle()
        await self._record_reply(reply, cut_s, interrupted=True)

    async def caller_turn(self, event: UserTurn) -> None:
        self.thinking.stop_reading_ahead()
        text = event.text.strip()
        retracted, self._retracted = self._retracted, None
        barged_in, self._barged_in = self._barged_in, None
        cut_by_sound = (retracted is not None or barged_in is not None) and not holds_words(text)
        if not text or cut_by_sound:
            self.thinking.drop_speculation()
            if retracted is not None:
                # The "more" that dropped the answer was a cough, an "um", a noise or a glitch
                # of the line: left unanswered, the caller's question would meet silence.
                await self._answer_again(*retracted, event)
            elif barged_in is not None:
                await self._go_on(*barged_in)
            return
        speculation = self.thinking.take_speculation(text)
        self._turn += 1
        self.transport.send(messages.transcription("user", self._turn, text))
        await self.transcript.user_turn(text, event.speech_start_s)
        self._reply_to(text, event, speculation)

    async def _answer_again(self, text: str, settled: asyncio.Task[None], event: UserTurn) -> None:
        await asyncio.wait({settled})  # the dropped answer has entered the history
        if self._reply is not None:
            return  # the goodbye (maxDuration) began meanwhile
        conversation = self.thinking.conversation
        if conversation is not None:
            conversation.take_back_unanswered(text)
        self._reply_to(text, event, None)

    async def _go_on(self, cut: Reply, heard: str, settled: asyncio.Task[None]) -> None:
        """The sound that cut the answer held no words: the answer goes on."""
        await asyncio.wait({settled})  # what was heard of it has entered the history
        if self._reply is not None or cut.written is None:
            return  # the goodbye (maxDuration) began meanwhile
        rest = cut_answer(cut.played, heard, cut.written, finished=cut.fully_scheduled)
        if rest is None:
            return
        conversation = self.thinking.conversation
        if conversation is None:
            return
        again = rest.again
        reply = self._start_reply(lambda going_on: self._say(going_on, _one(again)))
        reply.written = rest.again
        reply.said_before = _joined(cut.said_before, rest.kept)
        # In the history as if heard whole; cut again, it is trimmed to what was heard.
        conversation.restore_reply(_joined(reply.said_before, rest.again))
        reply.turn_recorded = True

    def _reply_to(self, text: str, event: UserTurn, speculation: Speculation | None) -> None:
        """Starts the answer to the caller's words, timed from `event`, the turn that ended."""
        timings = TurnTimings(
            self._turn + 1, event.speech_end_s, event.turn_end_s, event.asr_wait_s
        )
        timings.speculated = speculation is not None
        self.metrics.turn_started(timings)
        reply = self._start_reply(self._answer(text, speculation), timings=timings)
        reply.user_text = text
        reply.speculation = speculation

    # ----- the avatar's side -------------------------------------------------------------------

    def _start_reply(
        self, speech: Speech, *, is_script: bool = False, timings: TurnTimings | None = None
    ) -> Reply:
        self._turn += 1
        reply = Reply(self._turn, is_script=is_script, timings=timings)
        reply.task = asyncio.ensure_future(self._run_reply(reply, speech))
        self._reply = reply
        return reply

    async def _run_reply(self, reply: Reply, speech: Speech) -> None:
        self.events.set_state("thinking")
        try:
            await speech(reply)
            reply.fully_scheduled = True
            # Everything is scheduled: wait until it has been heard, then listen again.
            await self._sleep_until(self.voice.queued_until_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("session %s: answering failed", self.spec.session_id)
            failure = f"The avatar could not answer: {type(exc).__name__}: {exc}"[:500]
            self.end(Ending(Outcome.FAILED, "a stage failed", failure, "PIPELINE_ERROR"))
            return
        if reply.timings is not None:
            self.events.turn_done(reply.timings.as_json())
        if self._reply is reply:
            self._reply = None
            self.events.set_state("listening")
        await self._record_reply(reply, self.voice.position_s, interrupted=False)

    def _speak_script(self, text: str) -> Speech:
        async def speak(reply: Reply) -> None:
            reply.written = text
            conversation = self.thinking.conversation
            if conversation is not None:
                conversation.add_assistant_line(text)
                reply.turn_recorded = True
            await self._say(reply, _one(text))

        return speak

    def _answer(self, user_text: str, speculation: Speculation | None) -> Speech:
        """The reply to a caller's turn: generated now, or the speculative one already under
        way. Whatever happens to it, the turn enters the history with the text produced (a
        barge-in then trims that to what was heard)."""

        async def answer(reply: Reply) -> None:
            conversation = self.thinking.conversation
            assert conversation is not None
            record = speculation.record if speculation is not None else ReplyRecord()
            try:
                if speculation is not None:
                    if reply.timings is not None:
                        reply.timings.thinking_s = speculation.started_s
                        reply.timings.first_text_s = speculation.first_text_s
                        reply.timings.notes = speculation.notes
                    await self._say(reply, speculation.drain())
                else:
                    if reply.timings is not None:
                        reply.timings.thinking_s = self.clock.now()
                    await self.thinking.ready()
                    notes = await self.thinking.notes_for(user_text)
                    if reply.timings is not None:
                        reply.timings.notes = [note_source(note) for note in notes]
                    chunks = conversation.reply(
                        user_text,
                        notes,
                        record=False,
                        into=record,
                        run_tool=self._actions_for(reply) if self.spec.tools else None,
                    )
                    await self._say(reply, chunks)
                    if reply.timings is not None:
                        reply.timings.action_score = conversation.last_action_score
            finally:
                if reply.timings is not None:
                    reply.timings.first_token_s = record.first_token_s
                if speculation is not None and speculation.task is not None:
                    speculation.task.cancel()
                    await asyncio.wait({speculation.task})
                conversation.record_turn(user_text, record)
                reply.turn_recorded = True
                reply.written = record.text

        return answer

    def _actions_for(self, reply: Reply) -> RunTool:
        async def say(text: str) -> None:
            await self._say_sentence(reply, text)

        return self.actions.runner(reply.tools, say)

    async def _say(self, reply: Reply, chunks: AsyncIterator[str]) -> None:
        timings = reply.timings
        try:
            async for text in chunks:
                if timings is not None and timings.first_text_s is None:
                    timings.first_text_s = self.clock.now()
                # Sentence by sentence, so each sentence's words are timed as soon as it is
                # synthesized, while the previous one is still playing.
                for sentence in chunk_text([text], first_clause_min_words=_NEVER):
                    if reply.spoken.start_s is None:
                        await self._say_first(reply, sentence)
                    else:
                        await self._say_sentence(reply, sentence)
        finally:
            # Cancelled mid-sentence (barge-in): stop the model now and let the conversation
            # record what it produced before anyone trims it to what was heard.
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _say_sentence(self, reply: Reply, text: str) -> None:
        await self._play(reply, text, self.voice.segments(text))

    async def _say_first(self, reply: Reply, text: str) -> None:
        """The reply's first words: the model writing on would take cores from their
        synthesis while the caller waits in silence, so it is held until they are playing."""
        conversation = self.thinking.conversation
        if conversation is None:
            await self._say_sentence(reply, text)
            return
        writing = conversation.writing
        writing.hold()
        try:
            await self._play(reply, text, self.voice.segments(text), writing.release)
        finally:
            writing.release()

    async def _play(
        self,
        reply: Reply,
        text: str,
        segments: AsyncIterator[Segment],
        scheduled: Callable[[], None] | None = None,
    ) -> None:
        """Schedules a sentence's audio as it arrives, then times its words. `scheduled` is
        called once its first audio is on the clock."""
        first_start: float | None = None
        last_end = 0.0
        async for segment in segments:
            start, end = self.voice.schedule(segment)
            if scheduled is not None:
                scheduled()
                scheduled = None
            self.metrics.audio_scheduled(reply.timings, self.clock.now(), start)
            if first_start is not None and reply.timings is not None and start > last_end:
                reply.timings.speech_gap_s += start - last_end
            if first_start is None:
                first_start = start
                if reply.spoken.start_s is None:
                    self.tasks.spawn(self._speaking_at(start), "speaking-state")
            last_end = end
        if first_start is not None:
            reply.played.append(text)
            words = reply.spoken.add(text, first_start, last_end)
            assert reply.spoken.start_s is not None
            self.heard.add(reply.turn, words, reply.spoken.start_s)

    def _speak_prepared(self, lines: list[PreparedLine]) -> Speech:
        async def speak(reply: Reply) -> None:
            conversation = self.thinking.conversation
            if conversation is not None:
                conversation.add_assistant_line(" ".join(s for s, _ in lines))
                reply.turn_recorded = True
            for sentence, segments in lines:
                await self._play(reply, sentence, _iterate(segments))

        return speak

    async def _speaking_at(self, at_s: float) -> None:
        await self._sleep_until(at_s)
        if self._reply is not None:
            self.events.set_state("speaking")

    async def _record_reply(self, reply: Reply, until_s: float, *, interrupted: bool) -> None:
        if reply.recorded:
            return
        reply.recorded = True
        conversation = self.thinking.conversation
        if reply.user_text is not None and not reply.turn_recorded:
            # Cancelled before it started: the caller's words still belong in the history.
            if reply.speculation is not None:
                reply.speculation.cancel()
            if conversation is not None:
                conversation.record_turn(reply.user_text, ReplyRecord())
            reply.turn_recorded = True
        heard = reply.spoken.heard_by(until_s)
        complete = reply.fully_scheduled and heard == reply.spoken.text
        if interrupted and conversation is not None and reply.turn_recorded:
            conversation.keep_heard(_joined(reply.said_before, heard))
        without_words = not heard or reply.spoken.start_s is None
        await self.transcript.settle(
            reply.turn,
            heard if reply.spoken.start_s is not None else "",
            reply.spoken.start_s,
            self.clock.now(),
            # An action without words keeps the raw flag; words heard whole are not "cut".
            interrupted=interrupted if without_words else interrupted and not complete,
            tools=reply.tools,
        )

    # ----- guards ------------------------------------------------------------------------------

    async def _watch_caller_media(self) -> None:
        """A caller whose media stopped (tab closed, network gone) ends the call at once
        instead of after ICE's 30-45 s consent timeout."""
        while True:
            await asyncio.sleep(1.0)
            last = self.transport.last_caller_audio_s()
            if last is not None and self.clock.now() - last > CALLER_SILENT_TIMEOUT_S:
                self.end(Ending(Outcome.COMPLETED, "the caller's media stopped"))
                return

    async def _limit_duration(self) -> None:
        started = self.clock.now()
        # Ready before it is needed: a busy machine must not make the goodbye late.
        goodbye_lines = await self.voice.prepare(
            list(chunk_text([GOODBYE], first_clause_min_words=_NEVER))
        )
        await self._sleep_until(started + self.spec.max_duration_s - GOODBYE_LEAD_S)
        reply = self._reply
        if reply is not None:
            cut = self.voice.position_s
            heard = reply.spoken.heard_by(cut)
            self.interrupt(Interruption(InterruptionCause.TIME_UP, reply.turn, cut, heard))
        goodbye = self._start_reply(self._speak_prepared(goodbye_lines), is_script=True)
        deadline = started + self.spec.max_duration_s - 0.5
        assert goodbye.task is not None
        await asyncio.wait({goodbye.task}, timeout=max(0.1, deadline - self.clock.now()))
        self.end(Ending(Outcome.COMPLETED, "maxDuration reached"))

    # ----- helpers -----------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.events.state

    @property
    def current_reply(self) -> Reply | None:
        return self._reply

    async def _sleep_until(self, at_s: float) -> None:
        wait = at_s - self.clock.now()
        if wait > 0:
            await asyncio.sleep(wait)

    def recording_duration_s(self) -> float:
        return 0.0 if self.connected_at_s is None else self.clock.now() - self.connected_at_s


def _joined(*parts: str) -> str:
    return " ".join(part for part in parts if part)


async def _one(text: str) -> AsyncIterator[str]:
    yield text


async def _iterate(segments: Sequence[Segment]) -> AsyncIterator[Segment]:
    for segment in segments:
        yield segment
