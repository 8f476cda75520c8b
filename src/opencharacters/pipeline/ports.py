"""The ports of a live call: one small Protocol per stage and per piece of infrastructure.

The pipeline (pipeline/session.py) talks only to these; each has an embedded default adapter:

    port               embedded adapter                                 another adapter
    CallerTransport    engine/live/transport.py WebRtcTransport (WHIP)  livekit_transport.py
    SpeechRecognizer   speech/asr.py WhisperRecognizer                  speech/asr_openai.py
    TurnDetection      speech/turns.py TurnDetector (Silero VAD)
    DialogueModel      dialogue/xllamacpp_backend.py XLlamaDialogueModel dialogue/openai_backend.py,
                                                                        dialogue/llama_backend.py
      ActionChooser    XLlamaDialogueModel.action_chooser() (a server model has none)
    SpeechSynthesizer  speech/tts.py PresetSynthesizer (Piper + voice transforms)
    FaceRenderer       animation/render.py Renderer (CPU warp)          (a GPU renderer)
    FaceAnimation      animation/stream.py FaceAnimator
    CallRecording      engine/recording.py CallRecorder (one encoder thread)
    TranscriptSink     engine/live/transcript.py StoreTranscript (the database)

Models behind these are loaded once per process by model_registry.ModelRegistry. The blob store's
Protocol is blobs/store.py's BlobStore (owned by the storage layer)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

import numpy as np

from opencharacters.animation.stream import FrameRenderer as FaceRenderer
from opencharacters.animation.stream import VideoFrame
from opencharacters.dialogue.backend import ActionChooser, DialogueModel
from opencharacters.dialogue.knowledge.embedding import Embedder
from opencharacters.dialogue.tools import ToolOutcome, ToolRecord
from opencharacters.media.audio import AudioChunk, Samples
from opencharacters.speech.asr import SpeechRecognizer
from opencharacters.speech.tts import PhonemeTiming, SpeechSynthesizer
from opencharacters.speech.turns import TurnDetection

__all__ = [
    "ActionChooser",
    "CallControl",
    "CallModels",
    "CallRecording",
    "CallerTransport",
    "DialogueModel",
    "FaceAnimation",
    "FaceRenderer",
    "Knowledge",
    "ModelSource",
    "SpeechRecognizer",
    "SpeechSynthesizer",
    "ToolRunner",
    "TranscriptSink",
    "TurnDetection",
]


class CallControl(Protocol):
    """What a transport tells the call about its life: the pipeline implements it."""

    def connected(self) -> None:
        """The caller's media flows (the call's clock for duration and recording starts)."""

    def left(self, reason: str) -> None:
        """The caller is gone (peer closed or failed, media stopped)."""

    def end_requested(self, reason: str) -> None:
        """The caller asked to end the call (Runway's END_CALL)."""

    def lost(self, reason: str, failure_code: str) -> None:
        """The call's media path broke under it (a media server died): the call FAILS with
        `reason` (a sentence for the session's `failure`) and `failure_code`."""


class CallerTransport(Protocol):
    """The caller's side of one call, whatever carries it.

    In: the caller's audio as 16 kHz mono chunks stamped on the session clock, and control
    (`CallControl`). Out: the avatar's audio and video, pulled by the transport from the
    speaker and the face animation it was given (`attach_avatar`), and data events."""

    def caller_audio(self) -> AsyncIterator[AudioChunk]:
        """Ends when the caller's audio track ends."""
        ...

    def send(self, message: dict[str, Any]) -> None:
        """A data event to the caller (Runway's messages and ours), in order; never blocks."""

    def last_caller_audio_s(self) -> float | None:
        """When the caller's last audio packet arrived (browsers send them in silence too)."""
        ...

    def stop(self) -> None:
        """Stops sending the avatar's media."""


class FaceAnimation(Protocol):
    """Speech timing in, frames on the session clock out (animation/stream.py's FaceAnimator)."""

    fps: int

    def push_audio(
        self, chunk: AudioChunk, phonemes: Sequence[PhonemeTiming] | None = None
    ) -> None: ...

    def interrupt(self) -> None: ...

    def stream(self, clock: Callable[[], float]) -> AsyncIterator[VideoFrame]: ...


class CallRecording(Protocol):
    """Media of the call as it goes, on the recording's timeline (0 = connected)."""

    def add_video_frame(self, image: np.ndarray[Any, Any], timestamp_s: float) -> None: ...

    def add_avatar_audio(self, samples: Samples, sample_rate: int, timestamp_s: float) -> None: ...

    def add_caller_audio(self, samples: Samples, sample_rate: int, timestamp_s: float) -> None: ...


class TranscriptSink(Protocol):
    """Where what was said is written as the call goes (the store, see engine/live/transcript.py).

    The caller's turns are written whole (`entry`); the avatar's answers are opened when their
    first word is heard and revised as more is heard (`open_entry` / `revise`), so a process
    that dies mid-answer leaves the words heard so far on record."""

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None: ...

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        """Writes an entry that later `revise` calls complete; returns its handle (None: the
        transcript is full and nothing was written)."""
        ...

    async def revise(
        self,
        handle: int,
        content: str | None,
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


class CallModels(Protocol):
    """The process's shared models as one call sees them (engine/live/engines.py)."""

    @property
    def recognizer(self) -> SpeechRecognizer: ...

    @property
    def dialogue(self) -> DialogueModel: ...

    @property
    def synthesizer(self) -> SpeechSynthesizer: ...

    @property
    def embedder(self) -> Embedder | None: ...


class ModelSource(Protocol):
    """The shared models, once loaded (engine/live/engines.py's EngineLoader)."""

    async def get(self) -> CallModels: ...
