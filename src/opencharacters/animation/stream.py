"""The streaming face: timed audio (and optional phoneme timings) in, timed frames out.

Frame n is stamped n / fps on the session clock (plus `start_s`) and shows the face for the
middle of its 1/fps on screen, so a frame and the audio it belongs to share one timestamp.

A live stream renders each frame up to one frame period before it is due and hands it out at
its time: a render that waits for a core (the dialogue model and Whisper hold both of a small
machine's cores while an answer starts) uses the slack instead of making the frame late, and a
late frame is skipped. Speech or an interruption that arrives while a frame waits makes it be
rendered again, so the mouth is never a frame behind the voice or the barge-in."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from opencharacters.animation.drive import (
    MOUTH_PARAMS,
    MouthTrack,
    track_from_audio,
    track_from_phonemes,
)
from opencharacters.animation.idle import IdleMotion
from opencharacters.animation.params import NEUTRAL, FaceParams
from opencharacters.animation.render import Renderer
from opencharacters.animation.rig import FaceRig
from opencharacters.media.audio import AudioChunk
from opencharacters.speech.tts import PhonemeTiming


class FrameRenderer(Protocol):
    """Face parameters → one BGR image of the avatar (pipeline.ports.FaceRenderer)."""

    def render(self, params: FaceParams) -> np.ndarray[Any, Any]: ...


DEFAULT_FPS = 25
_ANTICIPATION_S = 0.2
"""How long before its sound a mouth shape starts to form (and after it, to fade)."""
_RELEASE = (0.5, 0.0)
"""Share of the speaking mouth kept on the first and second frame after an interrupt."""


@dataclass(frozen=True, slots=True)
class VideoFrame:
    index: int
    timestamp_s: float
    image: np.ndarray[Any, Any]
    params: FaceParams


@dataclass(slots=True)
class _RenderedAhead:
    """The animation's state before a frame that is rendered and not yet handed out, to go
    back to when what it shows is overtaken (speech queued for its time, an interruption)."""

    index: int
    last_mouth: FaceParams
    release: tuple[int, FaceParams] | None
    overtaken: bool = False


_REST_EPSILON = 0.01


def _at_rest_if_tiny(mouth: FaceParams) -> FaceParams:
    """Only the mouth's fields, and exactly NEUTRAL when none is visibly away from rest (the
    tails of smoothing and of overlapping tracks must not leave the lips a hair apart)."""
    values = {name: getattr(mouth, name) for name in MOUTH_PARAMS}
    if all(abs(value) < _REST_EPSILON for value in values.values()):
        return NEUTRAL
    return FaceParams(**values)


class FaceAnimator:
    def __init__(
        self,
        rig: FaceRig,
        fps: int = DEFAULT_FPS,
        start_s: float = 0.0,
        seed: int = 0,
        idle: bool = True,
        renderer: FrameRenderer | None = None,
    ) -> None:
        """`renderer`: what turns face parameters into pictures of this rig (default: the CPU
        warp, animation/render.py); a GPU renderer plugs in here."""
        self.renderer: FrameRenderer = renderer if renderer is not None else Renderer(rig)
        self.fps = fps
        self.start_s = start_s
        self._idle = IdleMotion(seed) if idle else None
        self._tracks: list[MouthTrack] = []
        self._next_index = 0
        self._release: tuple[int, FaceParams] | None = None
        self._last_mouth = NEUTRAL
        self._ahead: _RenderedAhead | None = None

    def timestamp(self, index: int) -> float:
        return self.start_s + index / self.fps

    def push_audio(
        self, chunk: AudioChunk, phonemes: Sequence[PhonemeTiming] | None = None
    ) -> None:
        """Queue speech; timings are relative to the chunk, the chunk's timestamp places it."""
        if phonemes:
            track = track_from_phonemes(phonemes, chunk.duration_s, chunk.timestamp_s)
        else:
            track = track_from_audio(chunk.samples, chunk.sample_rate, chunk.timestamp_s)
        self._tracks.append(track)
        ahead = self._ahead
        if ahead is not None and track.start_s - _ANTICIPATION_S <= self._middle(ahead.index):
            self._take_back_ahead()

    def interrupt(self) -> None:
        """Barge-in: drop queued speech; the mouth is neutral by the second frame from now."""
        self._tracks.clear()
        self._take_back_ahead()
        self._release = (self._next_index, self._last_mouth)

    def _take_back_ahead(self) -> None:
        """The frame rendered ahead is out of date: the state goes back to before it, and the
        stream renders it again before handing it out."""
        ahead = self._ahead
        if ahead is None or ahead.overtaken:
            return
        ahead.overtaken = True
        self._next_index = ahead.index
        self._last_mouth = ahead.last_mouth
        self._release = ahead.release

    def _middle(self, index: int) -> float:
        """A frame is on screen for 1/fps from its timestamp: it shows the middle of that."""
        return self.timestamp(index) + 0.5 / self.fps

    def params_at(self, index: int) -> FaceParams:
        time_s = self._middle(index)
        params = self._idle.at(time_s) if self._idle is not None else NEUTRAL
        self._tracks = [t for t in self._tracks if t.end_s > time_s - 1.0]
        mouth = NEUTRAL
        for track in self._tracks:
            if track.start_s - _ANTICIPATION_S <= time_s <= track.end_s + _ANTICIPATION_S:
                mouth = mouth.plus(track.at(time_s))
        if self._release is not None:
            since = index - self._release[0]
            if 0 <= since < len(_RELEASE):
                mouth = mouth.plus(self._release[1], _RELEASE[since])
            elif since >= len(_RELEASE):
                self._release = None
        mouth = _at_rest_if_tiny(mouth)
        self._last_mouth = mouth
        # Talking: less of the resting smile, which would fight the visemes; eased in and out
        # with how much the mouth is doing, so the corners do not jump when speech starts.
        activity = max(abs(getattr(mouth, name)) for name in MOUTH_PARAMS)
        params = params.plus(FaceParams(smile=-0.06 * min(1.0, activity / 0.15)))
        return params.plus(mouth).clipped()

    def next_frame(self) -> VideoFrame:
        index = self._next_index
        params = self.params_at(index)
        self._next_index += 1
        return VideoFrame(index, self.timestamp(index), self.renderer.render(params), params)

    def frames_for(self, duration_s: float) -> Iterator[VideoFrame]:
        """Exactly round(duration * fps) frames from the current position."""
        for _ in range(round(duration_s * self.fps)):
            yield self.next_frame()

    async def stream(self, clock: Callable[[], float]) -> AsyncIterator[VideoFrame]:
        """Frames paced on `clock` (session seconds), each rendered from one frame period
        before it is due and handed out at its time. When rendering falls behind, frames are
        skipped to catch up with "now" rather than sent in a burst."""
        while True:
            due = self.timestamp(self._next_index)
            wait = due - 1 / self.fps - clock()
            if wait > 0:
                await asyncio.sleep(wait)
            behind = int((clock() - due) * self.fps)
            if behind > 0:
                self._next_index += behind
            frame = await self._render_ahead()
            while True:
                assert self._ahead is not None
                if self._ahead.overtaken:
                    frame = await self._render_ahead()
                    continue
                wait = frame.timestamp_s - clock()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._ahead = None
            yield frame

    async def _render_ahead(self) -> VideoFrame:
        """The next frame: its parameters here on the event loop (the animation's state is
        only ever changed there), its picture in a thread."""
        index = self._next_index
        self._ahead = _RenderedAhead(index, self._last_mouth, self._release)
        params = self.params_at(index)
        self._next_index += 1
        image = await asyncio.to_thread(self.renderer.render, params)
        return VideoFrame(index, self.timestamp(index), image, params)
