"""End-of-turn detection on top of frame-level VAD.

A caller who has finished a sentence gets answered after a short pause; one who stops mid-phrase
("I'd like to book, um...") gets a longer one. Whether the words so far end a sentence comes from
the running partial transcript, which the listener feeds back in."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np

from opencharacters.engine_settings import VadSettings
from opencharacters.media.audio import Samples
from opencharacters.speech.vad import VAD_FRAME_SAMPLES, VAD_SAMPLE_RATE, SileroVad

_FRAME_S = VAD_FRAME_SAMPLES / VAD_SAMPLE_RATE
_HYSTERESIS = 0.15
_JOIN_S = 0.5
"""Sound too short to start a turn, this close before the speech that does, is the turn's first
word ("Stop, | please ..."): the turn's audio starts with it, or Whisper never hears it."""
_JOIN_FRAMES = round(_JOIN_S / _FRAME_S)
_LOOKBACK_FRAMES = round(1.0 / _FRAME_S)
"""How far before the speech start such a word is kept at most."""
_DANGLING_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "so",
        "because",
        "to",
        "of",
        "for",
        "with",
        "in",
        "on",
        "at",
        "my",
        "your",
        "our",
        "their",
        "if",
        "than",
        "that",
        "which",
        "who",
        "um",
        "uh",
        "er",
        "like",
    ]
)


def ends_sentence(text: str) -> bool:
    """True when a partial transcript reads as a finished sentence. Whisper adds a full stop to
    almost anything, so a stop after a word that cannot end a sentence ("to.") does not count."""
    stripped = text.strip()
    if not stripped or stripped.endswith(("...", "…")) or stripped[-1] not in ".?!":
        return False
    words = re.findall(r"[a-z']+", stripped.lower())
    return bool(words) and words[-1] not in _DANGLING_WORDS


@dataclass(frozen=True, slots=True)
class TurnEvent:
    kind: Literal["speech_start", "turn_end"]
    time_s: float
    """Stream time of the event: the speech start, or the moment the turn was judged over."""
    speech_start_s: float
    speech_end_s: float | None = None
    audio: Samples | None = None
    """On turn_end: the utterance at 16 kHz, with a little padding either side."""


class TurnDetection(Protocol):
    """What the listener needs of a turn detector (one per audio stream: it keeps state)."""

    in_speech: bool
    last_turn_speech_samples: int

    def push(self, samples: Samples) -> list[TurnEvent]: ...

    def set_partial_transcript(self, text: str, covers_samples: int | None = None) -> None: ...

    @property
    def speech_samples(self) -> int: ...

    @property
    def silence_started(self) -> bool: ...

    def utterance_so_far(self) -> Samples: ...


class TurnDetector:
    """Feed 16 kHz audio of any length; get speech starts (for barge-in) and turn ends."""

    def __init__(self, vad: SileroVad, settings: VadSettings, start_time_s: float = 0.0) -> None:
        self._vad = vad
        self._settings = settings
        self._origin = start_time_s
        self._pending = np.zeros(0, dtype=np.float32)
        self._frames_seen = 0
        self._pad_frames = max(1, round(settings.speech_pad_ms / 1000 / _FRAME_S))
        self._preroll: deque[Samples] = deque(maxlen=self._pad_frames + _LOOKBACK_FRAMES)
        """The frames before the current candidate, newest last."""
        self._dropped: tuple[int, int] | None = None
        """First and last frame index of the latest sound too short to be speech (with any
        such sound just before it)."""
        self.last_turn_speech_samples = 0
        """Samples of the last ended turn's audio up to its final speech frame."""
        self._reset_turn()

    def _reset_turn(self) -> None:
        self.in_speech = False
        self._candidate: list[Samples] = []
        self._candidate_start = 0
        self._utterance: list[Samples] = []
        self._speech_start_frame = 0
        self._last_speech_frame = 0
        self._silent_frames = 0
        self._partial = ""
        self._partial_covers = 0
        self._utterance_samples = 0
        self._speech_end_samples = 0

    def set_partial_transcript(self, text: str, covers_samples: int | None = None) -> None:
        """`covers_samples`: how much of the utterance the text was decoded from (default: all
        of it so far). A partial older than the caller's latest words cannot shorten the pause."""
        self._partial = text
        self._partial_covers = self._utterance_samples if covers_samples is None else covers_samples

    @property
    def speech_samples(self) -> int:
        """Samples of the current utterance up to its latest speech frame."""
        return self._speech_end_samples

    @property
    def silence_started(self) -> bool:
        """In a turn, and the caller has been quiet for at least two frames (64 ms)."""
        return self.in_speech and self._silent_frames >= 2

    @property
    def speech_end_s(self) -> float:
        """End of the last speech frame of the current utterance (stream time)."""
        return self._origin + (self._last_speech_frame + 1) * _FRAME_S

    def utterance_so_far(self) -> Samples:
        if not self._utterance:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._utterance)

    def silence_needed_ms(self) -> int:
        if self._partial_covers >= self._speech_end_samples and ends_sentence(self._partial):
            return self._settings.end_silence_after_sentence_ms
        return self._settings.end_silence_ms

    def push(self, samples: Samples) -> list[TurnEvent]:
        self._pending = np.concatenate([self._pending, samples.astype(np.float32, copy=False)])
        events: list[TurnEvent] = []
        while len(self._pending) >= VAD_FRAME_SAMPLES:
            frame = self._pending[:VAD_FRAME_SAMPLES]
            self._pending = self._pending[VAD_FRAME_SAMPLES:]
            event = self._step(frame, self._vad.probability(frame))
            self._frames_seen += 1
            if event is not None:
                events.append(event)
        return events

    def _time(self, frame_index: int) -> float:
        return self._origin + frame_index * _FRAME_S

    def _step(self, frame: Samples, probability: float) -> TurnEvent | None:
        threshold = self._settings.threshold
        index = self._frames_seen
        if not self.in_speech:
            if probability >= threshold:
                if not self._candidate:
                    self._candidate_start = index
                self._candidate.append(frame)
                if len(self._candidate) * _FRAME_S * 1000 >= self._settings.min_speech_ms:
                    return self._start_speech()
                return None
            if self._candidate and probability >= threshold - _HYSTERESIS:
                self._candidate.append(frame)
                return None
            # Too short to be speech: it becomes pre-roll like any other quiet frame.
            if self._candidate:
                self._drop_candidate(index)
            self._preroll.append(frame)
            return None

        self._utterance.append(frame)
        self._utterance_samples += len(frame)
        if probability >= threshold - _HYSTERESIS:
            self._silent_frames = 0
            if probability >= threshold:
                self._last_speech_frame = index
                self._speech_end_samples = self._utterance_samples
            return None
        self._silent_frames += 1
        if self._silent_frames * _FRAME_S * 1000 >= self.silence_needed_ms():
            return self._end_turn(index)
        return None

    def _dropped_just_before(self, start: int) -> int | None:
        """Where the short sounds ending just before frame `start` began (None: there were none)."""
        if self._dropped is not None and start - self._dropped[1] <= _JOIN_FRAMES:
            return self._dropped[0]
        return None

    def _drop_candidate(self, index: int) -> None:
        start = self._candidate_start
        joined = self._dropped_just_before(start)
        if joined is not None:
            start = joined
        self._dropped = (start, index - 1)
        for old in self._candidate:
            self._preroll.append(old)
        self._candidate = []

    def _start_speech(self) -> TurnEvent:
        self.in_speech = True
        self._speech_start_frame = self._candidate_start
        self._last_speech_frame = self._candidate_start + len(self._candidate) - 1
        kept = self._pad_frames
        joined = self._dropped_just_before(self._candidate_start)
        if joined is not None:
            kept = max(kept, self._candidate_start - joined + self._pad_frames)
        self._dropped = None
        before = list(self._preroll)[-kept:]
        self._utterance = [*before, *self._candidate]
        self._utterance_samples = sum(len(frame) for frame in self._utterance)
        self._speech_end_samples = self._utterance_samples
        self._preroll.clear()
        self._candidate = []
        start = self._time(self._speech_start_frame)
        return TurnEvent("speech_start", start, speech_start_s=start)

    def _end_turn(self, index: int) -> TurnEvent:
        audio = self.utterance_so_far()
        self.last_turn_speech_samples = len(audio) - self._silent_frames * VAD_FRAME_SAMPLES
        # Keep speech_pad_ms of the trailing silence: Whisper is happier with a soft ending.
        drop = max(0, self._silent_frames - self._pad_frames)
        if drop:
            audio = audio[: len(audio) - drop * VAD_FRAME_SAMPLES]
        event = TurnEvent(
            "turn_end",
            self._time(index + 1),
            speech_start_s=self._time(self._speech_start_frame),
            speech_end_s=self.speech_end_s,
            audio=audio,
        )
        self._reset_turn()
        return event
