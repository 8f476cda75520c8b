"""One live call over WebRTC: the pipeline (pipeline/session.py) wired to the aiortc transport.

`SessionWorker` is what engine/live/calls.py holds for each call: it builds the session's
clock-bound parts (speaker, face animation with its renderer, transport) and the call session,
and forwards the few things the signalling side needs (tracks, channel, control, stats)."""

from __future__ import annotations

from typing import Any

from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.animation.stream import FaceAnimator
from opencharacters.engine.live.engines import EngineLoader
from opencharacters.engine.live.transport import WebRtcTransport
from opencharacters.engine_settings import EngineSettings
from opencharacters.model_registry import models_for
from opencharacters.pipeline.call import CallSpec, Ending, Outcome
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.ports import CallRecording, Knowledge, ToolRunner, TranscriptSink
from opencharacters.pipeline.session import CallSession
from opencharacters.pipeline.speaker import Speaker

__all__ = ["CallSpec", "Ending", "Outcome", "SessionWorker", "TranscriptSink"]


class SessionWorker:
    def __init__(
        self,
        spec: CallSpec,
        *,
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
        self.transport = WebRtcTransport(spec.session_id, clock, self.speaker, self.animator)
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
        self.channel = self.transport.channel
        self.audio_track = self.transport.audio_track
        self.video_track = self.transport.video_track

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

    def connection_state_changed(self, state: str) -> None:
        self.transport.connection_state_changed(state)

    def caller_track(self, track: Any) -> None:
        self.transport.caller_track(track)

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

    def stats(self) -> dict[str, Any]:
        return {
            "audioFramesSent": self.audio_track.frames_sent,
            "videoFramesSent": self.video_track.frames_sent,
            "firstFrameAfterConnectS": (
                None
                if self.video_track.first_frame_s is None or self.connected_at_s is None
                else round(self.video_track.first_frame_s - self.connected_at_s, 4)
            ),
            "turns": [t.as_json() for t in self.session.metrics.turns],
            "bargeIns": self.session.metrics.barge_ins,
        }
