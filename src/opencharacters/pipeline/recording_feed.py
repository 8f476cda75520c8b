"""Feeds the call's media to the recorder on the recording's timeline: 0 is the moment the
call connected, as the session's duration counts (earlier media is not recorded)."""

from __future__ import annotations

from typing import Any

import numpy as np

from opencharacters.media.audio import Samples
from opencharacters.pipeline.frames import Interruption
from opencharacters.pipeline.ports import CallRecording


class RecordingFeed:
    name = "recording"

    def __init__(self, recorder: CallRecording | None = None) -> None:
        self.recorder = recorder
        self.origin_s: float | None = None

    def _at(self, at_s: float) -> float | None:
        if self.recorder is None or self.origin_s is None or at_s < self.origin_s:
            return None
        return at_s - self.origin_s

    def caller_audio(self, samples: Samples, sample_rate: int, at_s: float) -> None:
        at = self._at(at_s)
        if at is not None and self.recorder is not None:
            self.recorder.add_caller_audio(samples, sample_rate, at)

    def avatar_audio(self, samples: Samples, sample_rate: int, at_s: float) -> None:
        at = self._at(at_s)
        if at is not None and self.recorder is not None:
            self.recorder.add_avatar_audio(samples, sample_rate, at)

    def video_frame(self, image: np.ndarray[Any, Any], at_s: float) -> None:
        at = self._at(at_s)
        if at is not None and self.recorder is not None:
            self.recorder.add_video_frame(image, at)

    def interrupt(self, frame: Interruption) -> None:
        """A recording keeps everything, the cut included."""
