"""The avatar's voice on the session clock: speech is scheduled, then read out in 20 ms frames.

Scheduling places each piece right after what is already queued (or a short lead from now), so
the time a word will be heard is known before it is heard: the face and the transcript use it.
Clearing (barge-in) cuts the sound at the frame being read, with a short fade so it does not
click, and drops everything queued after it."""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from opencharacters.media.audio import Samples, resample

PLAYOUT_RATE = 48_000
FRAME_SAMPLES = 960
"""20 ms at 48 kHz: what the Opus encoder takes per packet."""
FRAME_S = FRAME_SAMPLES / PLAYOUT_RATE
_FADE_SAMPLES = 240  # 5 ms


@dataclass(slots=True)
class _Piece:
    start: int
    """First sample on the playout grid (48 kHz samples since the session clock's origin)."""
    samples: Samples

    @property
    def end(self) -> int:
        return self.start + len(self.samples)


class Speaker:
    def __init__(self, now: Callable[[], float], lead_s: float = 0.02) -> None:
        """`lead_s`: how far past the playout position the first speech after silence starts.
        The reader takes audio at its due time and the face renders each frame at its own, so
        nothing needs more than a frame of slack; every millisecond here is heard as delay."""
        self._now = now
        self._lead = round(lead_s * PLAYOUT_RATE)
        self._pieces: deque[_Piece] = deque()
        self._read_to = 0
        """The playout position: samples before it have been handed to the audio track."""
        self._lock = threading.Lock()

    def schedule(self, samples: Samples, sample_rate: int) -> tuple[float, float]:
        """Queues speech after whatever is queued; returns its start and end on the clock."""
        audio = resample(samples, sample_rate, PLAYOUT_RATE)
        with self._lock:
            earliest = max(self._read_to, math.ceil(self._now() * PLAYOUT_RATE)) + self._lead
            start = max(earliest, self._pieces[-1].end if self._pieces else 0)
            self._pieces.append(_Piece(start, audio))
        return start / PLAYOUT_RATE, (start + len(audio)) / PLAYOUT_RATE

    def read(self, start: int, count: int = FRAME_SAMPLES) -> Samples:
        """The mix for samples [start, start + count); what is older is forgotten."""
        out = np.zeros(count, dtype=np.float32)
        end = start + count
        with self._lock:
            while self._pieces and self._pieces[0].end <= start:
                self._pieces.popleft()
            for piece in self._pieces:
                if piece.start >= end:
                    break
                lo = max(start, piece.start)
                hi = min(end, piece.end)
                out[lo - start : hi - start] += piece.samples[lo - piece.start : hi - piece.start]
            self._read_to = max(self._read_to, end)
        return out

    def clear(self) -> float:
        """Stops the speech at the playout position; returns that position in seconds."""
        with self._lock:
            cut = self._read_to
            kept: deque[_Piece] = deque()
            for piece in self._pieces:
                if piece.start >= cut or piece.end <= cut:
                    continue
                # The piece being played: fade out over the next few ms, then silence.
                offset = cut - piece.start
                tail = piece.samples[offset : offset + _FADE_SAMPLES].copy()
                tail *= np.linspace(1.0, 0.0, len(tail), dtype=np.float32)
                kept.append(_Piece(cut, tail))
            self._pieces = kept
        return cut / PLAYOUT_RATE

    @property
    def queued_until_s(self) -> float:
        """When the last queued speech ends (the playout position when nothing is queued)."""
        with self._lock:
            end = self._pieces[-1].end if self._pieces else self._read_to
            return max(end, self._read_to) / PLAYOUT_RATE

    @property
    def position_s(self) -> float:
        with self._lock:
            return self._read_to / PLAYOUT_RATE

    def speaking(self) -> bool:
        with self._lock:
            return any(piece.end > self._read_to for piece in self._pieces)
