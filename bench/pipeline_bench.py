"""The call pipeline the product runs, with every model loaded: memory and turn latency.

The call is built as engine/live/calls.py builds it (SessionWorker: the WebRTC transport
adapter and the CallSession with all its stages, on the process's model registry); only the
network is left out. The caller is an in-process track handing 48 kHz frames in real time, as
aiortc does after decoding Opus, speaking Piper questions; the avatar's audio and video tracks
are pulled at their pace, as aiortc's senders pull them (the face is rendered; nothing is
encoded: bench/live_bench.py measures the whole thing over WebRTC).

Reported per turn, seconds after the caller's speech ended (the call's own measurements, as the
`opencharacters.turn` event carries them): end of turn detected, first clause written, first
audio scheduled, first audio due out, first frame with the mouth moving. RSS from /proc.

    .venv/bin/python bench/pipeline_bench.py
"""

from __future__ import annotations

import asyncio
import fractions
import resource
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError

from common import load_average, write_results
from opencharacters.animation.rig import prepare
from opencharacters.dialogue.tools import ToolRecord
from opencharacters.engine.live.engines import EngineLoader
from opencharacters.engine.live.transport import WebRtcTransport
from opencharacters.engine.live.worker import CallSpec, Ending, Outcome, SessionWorker
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples, float_to_int16, resample
from opencharacters.model_registry import models_for
from opencharacters.pipeline.clock import SessionClock

PERSONA = (
    "You are Mia, the friendly receptionist of Sunrise Dental Clinic on Harbor Street. "
    "The clinic is open Monday to Friday, 9am to 5pm. A check-up costs 60 dollars."
)
CALLER_LINES = (
    "Hi, I would like to book a check-up.",
    "How much does a check-up cost?",
    "Are you open on Saturdays?",
    "Great, thank you very much.",
)
FACE = Path(__file__).parents[1] / "tests" / "assets" / "astronaut.jpg"
RATE = 48_000
FRAME = 960  # 20 ms, as Opus packets arrive


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Microphone:
    """The caller's audio track as aiortc hands it to the server: 20 ms frames, in real time."""

    kind = "audio"

    def __init__(self) -> None:
        self._queue: list[Samples] = []
        self._pts = 0
        self._next: float | None = None
        self.stopped = False

    def say(self, samples: Samples) -> None:
        for i in range(0, len(samples), FRAME):
            piece = samples[i : i + FRAME]
            self._queue.append(np.pad(piece, (0, FRAME - len(piece))))

    async def recv(self) -> av.AudioFrame:
        if self.stopped:
            raise MediaStreamError
        now = time.monotonic()
        self._next = now if self._next is None else self._next + FRAME / RATE
        await asyncio.sleep(max(0.0, self._next - now))
        samples = self._queue.pop(0) if self._queue else np.zeros(FRAME, np.float32)
        frame = av.AudioFrame.from_ndarray(
            float_to_int16(samples).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, RATE)
        self._pts += FRAME
        return frame


class Transcript:
    def __init__(self) -> None:
        self.entries: list[list[Any]] = []

    async def entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        self.entries.append([role, content])

    async def open_entry(
        self,
        role: str,
        content: str | None,
        at_s: float,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> int | None:
        self.entries.append([role, content])
        return len(self.entries) - 1

    async def revise(
        self,
        handle: int,
        content: str | None,
        *,
        interrupted: bool = False,
        tools: Sequence[ToolRecord] = (),
    ) -> None:
        self.entries[handle][1] = content


async def pull(track: Any) -> None:
    while True:
        await track.recv()


async def wait_state(
    worker: SessionWorker[WebRtcTransport], state: str, timeout_s: float = 300
) -> None:
    deadline = time.monotonic() + timeout_s
    while worker.session.state != state:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the avatar never got to {state}")
        await asyncio.sleep(0.01)


async def main() -> None:
    settings = EngineSettings()
    baseline = rss_mb()
    started = time.perf_counter()
    engines = EngineLoader(settings)
    await engines.get()
    load_s = time.perf_counter() - started
    synthesizer = models_for(settings).synthesizer()
    caller = [
        resample(synthesizer.synthesize_text(line, "sam"), synthesizer.sample_rate, RATE)
        for line in CALLER_LINES
    ]
    spec = CallSpec(
        session_id="bench",
        organization_id="bench",
        rig_json=prepare(FACE.read_bytes()).to_bytes(),
        voice="clara",
        personality=PERSONA,
        start_script=None,
        max_duration_s=3600,
    )
    transcript = Transcript()
    worker = SessionWorker(
        spec,
        transport=lambda clock, speaker, face, _size: WebRtcTransport(
            spec.session_id, clock, speaker, face
        ),
        engines=engines,
        engine_settings=settings,
        clock=SessionClock(),
        transcript=transcript,
    )
    microphone = Microphone()
    worker.transport.caller_track(microphone)
    worker.transport.connection_state_changed("connected")
    media = [asyncio.ensure_future(pull(worker.transport.audio_track)),
             asyncio.ensure_future(pull(worker.transport.video_track))]  # fmt: skip
    call = asyncio.ensure_future(worker.converse())
    await wait_state(worker, "listening")
    for line in caller:
        microphone.say(line)
        await wait_state(worker, "speaking")
        await wait_state(worker, "listening")
        await asyncio.sleep(0.5)
    turns = [t.as_json() for t in worker.session.metrics.turns]
    worker.end(Ending(Outcome.COMPLETED, "bench done"))
    await call
    for task in media:
        task.cancel()
    microphone.stopped = True
    await worker.shutdown()
    for turn in turns:
        print(turn)
    after = rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    first_audio = [float(t["firstAudioS"]) for t in turns[1:] if t["firstAudioS"] is not None]
    print(f"RSS: python+libs {baseline:.0f} MB, engines and a call {after:.0f} MB, peak {peak:.0f}")
    print(f"caller's speech end -> first avatar audio due out, turns 2+: {first_audio}")
    write_results(
        "pipeline",
        {
            "load_all_s": round(load_s, 2),
            "rss_before_models_mb": round(baseline),
            "rss_engines_and_call_mb": round(after),
            "peak_rss_mb": round(peak),
            "turns": turns,
            "transcript": transcript.entries,
            "speech_end_to_first_audio_median_s": (
                round(float(np.median(first_audio)), 3) if first_audio else None
            ),
            "load_average": load_average(),
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
