"""One live call: the pipeline (pipeline/session.py) wired to a caller transport.

`SessionWorker` is what engine/live/calls.py holds for each call: it builds the session's
clock-bound parts (speaker, face animation with its renderer), the transport (WHIP's aiortc
peer, engine/live/transport.py, or a LiveKit room, engine/live/livekit_transport.py) and the
call session, and forwards what the signalling side needs (control, stats)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
from opencharacters.engine.live.engines import EngineLoader
from opencharacters.engine.live.transport import CallPeer
from opencharacters.engine_settings import EngineSettings
from opencharacters.model_registry import models_for
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.ports import (
    CallerTransport,
    CallRecording,
    Knowledge,
    ToolRunner,
    TranscriptSink,
)
from opencharacters.pipeline.recording_feed import RecordingFeed
from opencharacters.pipeline.session import CallSession
from opencharacters.pipeline.speaker import Speaker

__all__ = ["CallSpec", "Ending", "Outcome", "SessionCall", "SessionWorker", "TranscriptSink"]


class AvatarTransport(CallerTransport, Protocol):
    """A caller transport as a worker builds it: bound to the call, counting what it sent."""

    def bind(self, peer: CallPeer) -> None: ...

    def media_stats(self) -> dict[str, Any]:
        """audioFramesSent, videoFramesSent, firstFrameS (session clock) so far."""
        ...


T = TypeVar("T", bound=AvatarTransport)
TransportFactory = Callable[[SessionClock, Speaker, FaceAnimator, tuple[int, int]], T]
"""Builds a call's transport from its clock, speaker, face animation and frame size."""


class RunningSession(Protocol):
    """What a call's session offers the worker that drives it: the talking pipeline
    (pipeline/session.py) or the face of someone else's agent (pipeline/audio_driven.py)."""

    recording: RecordingFeed

    @property
    def ending(self) -> Ending | None: ...

    @property
    def connected_at_s(self) -> float | None: ...

    def end(self, ending: Ending) -> None: ...

    async def wait_connected(self, timeout_s: float) -> bool: ...

    async def converse(self) -> None: ...

    async def shutdown(self) -> None: ...

    def recording_duration_s(self) -> float: ...


S = TypeVar("S", bound=RunningSession)


class SessionCall(Generic[S]):
    """What engine/live/calls.py holds for a call, whatever runs it: each member is the
    session's own."""

    session: S

    @property
    def recorder(self) -> Any:
        return self.session.recording.recorder

    @recorder.setter
    def recorder(self, recorder: CallRecording | None) -> None:
        self.session.recording.recorder = recorder

    @property
    def ending(self) -> Ending | None:
        return self.session.ending

    @property
    def connected_at_s(self) -> float | None:
        return self.session.connected_at_s

    def end(self, ending: Ending) -> None:
        self.session.end(ending)

    async def wait_connected(self, timeout_s: float) -> bool:
        return await self.session.wait_connected(timeout_s)

    async def converse(self) -> None:
        await self.session.converse()

    async def shutdown(self) -> None:
        await self.session.shutdown()

    def recording_duration_s(self) -> float:
        return self.session.recording_duration_s()


class SessionWorker(SessionCall[CallSession], Generic[T]):
    def __init__(
        self,
        spec: CallSpec,
        *,
        transport: TransportFactory[T],
        engines: EngineLoader,
        engine_settings: EngineSettings,
        clock: SessionClock,
        transcript: TranscriptSink,
        recorder: CallRecording | None = None,
        tool_backend: ToolRunner | None = None,
        knowledge: Knowledge | None = None,
    ) -> None:
        self.spec = spec
        self.clock = clock
        rig = FaceRig.from_json(spec.rig_json)
        self.frame_size = rig.size
        self.speaker = Speaker(clock.now)
        self.animator = FaceAnimator(rig, fps=spec.fps, renderer=Renderer(rig))
        self.transport: T = transport(clock, self.speaker, self.animator, self.frame_size)
        models = models_for(engine_settings)
        self.session = CallSession(
            spec,
            models=engines,
            engine_settings=engine_settings,
            clock=clock,
            transport=self.transport,
            speaker=self.speaker,
            face=self.animator,
            transcript=transcript,
            new_turn_detector=models.turn_detector,
            recorder=recorder,
            tool_backend=tool_backend,
            knowledge=knowledge,
        )
        self.transport.bind(self.session)

    def stats(self) -> dict[str, Any]:
        media = self.transport.media_stats()
        first_frame_s = media["firstFrameS"]
        return {
            "audioFramesSent": media["audioFramesSent"],
            "videoFramesSent": media["videoFramesSent"],
            "firstFrameAfterConnectS": (
                None
                if first_frame_s is None or self.connected_at_s is None
                else round(first_frame_s - self.connected_at_s, 4)
            ),
            "turns": [t.as_json() for t in self.session.metrics.turns],
            "bargeIns": self.session.metrics.barge_ins,
        }
