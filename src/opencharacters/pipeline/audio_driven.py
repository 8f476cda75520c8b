"""An avatar driven by someone else's speech: the face of a developer's voice agent.

No hearing, thinking or synthesis runs: the agent's audio arrives in segments (one per
utterance), each piece is scheduled on the speaker as it comes and the mouth follows it at the
same instants, shapes estimated from the sound itself (speech/audio_visemes.py, the path of
speech servers that return audio only). The agent hears back when a segment starts being heard
and when it has been heard to its end, or how much of it was heard when it asked to clear it
(LiveKit Agents' avatar protocol, engine/live/livekit_avatar_integration.py).

    segment opened ─► pieces scheduled (speaker + face) ─► first sample heard → started
    segment closed ─► its last sample heard → finished(position, interrupted=False)
    clear          ─► speaker and mouth cut at the frame being sent → finished(heard, True)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import numpy as np

from opencharacters.animation.stream import VideoFrame
from opencharacters.media.audio import AudioChunk, Samples
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.ports import CallRecording, FaceAnimation
from opencharacters.pipeline.recording_feed import RecordingFeed
from opencharacters.pipeline.speaker import PLAYOUT_RATE, Speaker
from opencharacters.pipeline.waits import connected_before_end
from opencharacters.speech.audio_visemes import viseme_spans
from opencharacters.speech.tts import PhonemeTiming

log = logging.getLogger(__name__)

PIECE_S = 0.1
"""Incoming audio is scheduled in pieces of this length: small enough that the voice starts
0.1 s after the agent's first bytes, large enough for the mouth-shape estimate (20 ms frames)."""


@dataclass(slots=True)
class PlaybackFinished:
    position_s: float
    """How much of the segment was heard."""
    interrupted: bool


@dataclass(slots=True)
class _Segment:
    number: int
    start_s: float | None = None
    """When its first sample is heard (session clock); None until a piece is scheduled."""
    end_s: float = 0.0
    """When its last scheduled sample is heard."""
    closed: bool = False
    pending: list[Samples] | None = None
    pending_samples: int = 0

    def heard_s(self, position_s: float) -> float:
        if self.start_s is None:
            return 0.0
        return max(0.0, min(position_s, self.end_s) - self.start_s)


class AudioDrivenAvatar:
    """The call control and the audio-to-face stage of an avatar voicing another's agent."""

    def __init__(
        self,
        spec: CallSpec,
        now: Callable[[], float],
        speaker: Speaker,
        face: FaceAnimation,
        *,
        on_started: Callable[[], None],
        on_finished: Callable[[PlaybackFinished], None],
        recorder: CallRecording | None = None,
    ) -> None:
        self.spec = spec
        self.now = now
        """The session clock."""
        self.speaker = speaker
        self.face = face
        self._on_started = on_started
        self._on_finished = on_finished
        self.recording = RecordingFeed(recorder)
        self.ending: Ending | None = None
        self.connected_at_s: float | None = None
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._segment: _Segment | None = None
        self._count = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.segments_finished = 0
        self.segments_cleared = 0

    # ----- call control (what the room reports) -----------------------------------------------

    def connected(self) -> None:
        if not self._connected.is_set():
            self.connected_at_s = self.now()
            self.recording.origin_s = self.connected_at_s
            self._connected.set()

    def left(self, reason: str) -> None:
        self.end(Ending(Outcome.COMPLETED, reason))

    def end_requested(self, reason: str) -> None:
        self.end(Ending(Outcome.COMPLETED, reason))

    def end(self, ending: Ending) -> None:
        """Asks the call to end; the first reason given wins."""
        if self.ending is None:
            self.ending = ending
            self._ended.set()

    # ----- media taps (what the room sent) ----------------------------------------------------

    def avatar_audio_sent(self, samples: Samples, at_s: float, first: bool) -> None:
        self.recording.avatar_audio(samples, PLAYOUT_RATE, at_s)

    def frame_sent(self, frame: VideoFrame, first: bool) -> None:
        self.recording.video_frame(frame.image, frame.timestamp_s)

    # ----- the agent's audio ------------------------------------------------------------------

    def open_segment(self) -> int:
        """A new utterance begins (the agent opened an audio stream); returns its number."""
        if self._segment is not None and not self._segment.closed:
            # The agent never overlaps its streams: the previous one's end was lost.
            self.close_segment(self._segment.number)
        self._count += 1
        self._segment = _Segment(self._count, pending=[])
        return self._count

    def push(self, number: int, samples: Samples) -> None:
        """Agent audio of segment `number` at the playout rate, in arrival order."""
        segment = self._segment
        if segment is None or segment.number != number or segment.closed:
            return  # cleared or superseded: not to be heard
        assert segment.pending is not None
        segment.pending.append(samples)
        segment.pending_samples += len(samples)
        if segment.pending_samples >= PIECE_S * PLAYOUT_RATE:
            self._schedule_pending(segment)

    def close_segment(self, number: int) -> None:
        """The agent closed the stream: once what is queued has been heard, it is finished."""
        segment = self._segment
        if segment is None or segment.number != number or segment.closed:
            return
        self._schedule_pending(segment)
        segment.closed = True
        self._spawn(self._finish_when_heard(segment))

    def clear(self) -> None:
        """The agent was interrupted: the voice and the mouth stop at the frame being sent."""
        segment = self._segment
        self._segment = None
        cut = self.speaker.clear()
        self.face.interrupt()
        if segment is None or segment.start_s is None:
            return  # nothing of it was scheduled: nothing to report
        if segment.closed and cut >= segment.end_s:
            return  # already heard whole; its own report is on its way
        self.segments_cleared += 1
        self._on_finished(PlaybackFinished(round(segment.heard_s(cut), 3), True))

    def _schedule_pending(self, segment: _Segment) -> None:
        if not segment.pending:
            return
        samples = np.concatenate(segment.pending).astype(np.float32)
        segment.pending = []
        segment.pending_samples = 0
        start, end = self.speaker.schedule(samples, PLAYOUT_RATE)
        shapes = tuple(
            PhonemeTiming("", viseme, begin, finish)
            for viseme, begin, finish in viseme_spans(samples, PLAYOUT_RATE)
        )
        self.face.push_audio(AudioChunk(samples, PLAYOUT_RATE, start), shapes)
        segment.end_s = end
        if segment.start_s is None:
            segment.start_s = start
            self._spawn(self._started_when_heard(segment))

    async def _started_when_heard(self, segment: _Segment) -> None:
        assert segment.start_s is not None
        await self._sleep_until(segment.start_s)
        if self._segment is segment:
            self._on_started()

    async def _finish_when_heard(self, segment: _Segment) -> None:
        while self._segment is segment and self.now() < segment.end_s:
            await self._sleep_until(segment.end_s)
        if self._segment is not segment:
            return  # cleared meanwhile (reported then) or superseded
        self._segment = None
        if segment.start_s is None:
            return  # an empty stream: nothing was played
        self.segments_finished += 1
        self._on_finished(PlaybackFinished(round(segment.end_s - segment.start_s, 3), False))

    # ----- the call's life --------------------------------------------------------------------

    async def wait_connected(self, timeout_s: float) -> bool:
        return await connected_before_end(self._connected, self._ended, timeout_s)

    async def converse(self) -> None:
        """Runs until something ends the call; maxDuration ends it COMPLETED (no goodbye: the
        voice is the agent's)."""
        try:
            await asyncio.wait_for(self._ended.wait(), self.spec.max_duration_s)
        except TimeoutError:
            self.end(Ending(Outcome.COMPLETED, "maxDuration reached"))

    async def shutdown(self) -> None:
        self._segment = None
        self.speaker.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks)

    def recording_duration_s(self) -> float:
        return 0.0 if self.connected_at_s is None else self.now() - self.connected_at_s

    # ----- helpers ----------------------------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sleep_until(self, at_s: float) -> None:
        wait = at_s - self.now()
        if wait > 0:
            await asyncio.sleep(wait)
