"""The WebRTC transport adapter: aiortc's callbacks become the call's control, decoded caller
frames become 16 kHz chunks on the session clock, and END_CALL ends the call."""

from __future__ import annotations

import asyncio
import datetime
import fractions
import json
import types
from typing import Any

import av
import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError

from opencharacters.animation.stream import VideoFrame
from opencharacters.engine.live.transport import CALLER_RATE, WebRtcTransport
from opencharacters.media.audio import Samples
from opencharacters.pipeline.clock import SessionClock
from opencharacters.pipeline.speaker import Speaker
from tests.support.pipeline import FakeFace

pytestmark = pytest.mark.unit


class Peer:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.caller: list[tuple[int, float]] = []

    def connected(self) -> None:
        self.events.append("connected")

    def left(self, reason: str) -> None:
        self.events.append(f"left: {reason}")

    def end_requested(self, reason: str) -> None:
        self.events.append(f"end: {reason}")

    def lost(self, reason: str, failure_code: str) -> None:
        self.events.append(f"lost: {reason} ({failure_code})")

    def caller_audio_received(self, samples: Samples, sample_rate: int, at_s: float) -> None:
        self.caller.append((sample_rate, at_s))

    def avatar_audio_sent(self, samples: Samples, at_s: float, first: bool) -> None:
        pass

    def frame_sent(self, frame: VideoFrame, first: bool) -> None:
        pass


class CallerTrack:
    """What aiortc hands the server for the caller's microphone: decoded 48 kHz frames."""

    kind = "audio"

    def __init__(self, frames: int) -> None:
        self.left = frames
        self.pts = 0

    async def recv(self) -> av.AudioFrame:
        if self.left == 0:
            raise MediaStreamError
        self.left -= 1
        await asyncio.sleep(0.02)
        tone = (8000 * np.sin(np.arange(960) / 10)).astype(np.int16).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48_000, self.pts
        frame.time_base = fractions.Fraction(1, 48_000)
        self.pts += 960
        return frame


class Channel:
    readyState = "open"

    def __init__(self) -> None:
        self.handlers: dict[str, Any] = {}
        self.sent: list[str] = []

    def on(self, event: str, handler: Any) -> None:
        self.handlers[event] = handler

    def send(self, text: str) -> None:
        self.sent.append(text)


def transport() -> tuple[WebRtcTransport, Peer]:
    clock = SessionClock()
    adapter = WebRtcTransport("s", clock, Speaker(clock.now), FakeFace())  # type: ignore[arg-type]
    peer = Peer()
    adapter.bind(peer)
    return adapter, peer


async def test_the_callers_frames_become_chunks_on_the_session_clock() -> None:
    adapter, peer = transport()
    adapter.caller_track(CallerTrack(frames=10))
    chunks = [chunk async for chunk in _first(adapter, 10)]
    assert all(c.sample_rate == CALLER_RATE for c in chunks)
    assert sum(len(c.samples) for c in chunks) >= 9 * 320
    starts = [c.timestamp_s for c in chunks]
    assert starts == sorted(starts) and starts[-1] - starts[0] == pytest.approx(0.18, abs=0.03)
    assert len(peer.caller) == 10 and peer.caller[0][0] == 48_000
    assert adapter.last_caller_audio_s() is not None
    adapter.stop()


class Receiver:
    """aiortc's RTP receiver as the transport reads it: sources stamped as packets arrive."""

    def __init__(self) -> None:
        self.stamps: list[datetime.datetime] = []

    def getSynchronizationSources(self) -> list[Any]:
        return [types.SimpleNamespace(source=1, timestamp=stamp) for stamp in self.stamps]


async def test_packets_that_still_arrive_count_as_the_callers_media() -> None:
    """A starved machine decodes seconds late; the packets show the caller is still there."""
    adapter, _ = transport()
    receiver = Receiver()
    adapter.caller_audio_receiver(receiver)
    assert adapter.last_caller_audio_s() is None  # nothing decoded yet: the call has not begun
    adapter.caller_track(CallerTrack(frames=1))
    _ = [chunk async for chunk in _first(adapter, 1)]
    decoded = adapter.last_caller_audio_s()
    assert decoded is not None
    assert adapter.last_caller_audio_s() == decoded  # no packets listed: decoded frames only
    await asyncio.sleep(0.3)
    receiver.stamps = [datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=0.05)]
    with_packets = adapter.last_caller_audio_s()
    assert with_packets is not None and with_packets - decoded == pytest.approx(0.25, abs=0.05)
    adapter.stop()


async def _first(adapter: WebRtcTransport, count: int) -> Any:
    got = 0
    async for chunk in adapter.caller_audio():
        yield chunk
        got += 1
        if got == count:
            return


async def test_aiortcs_callbacks_become_the_calls_control() -> None:
    adapter, peer = transport()
    adapter.connection_state_changed("connecting")
    adapter.connection_state_changed("connected")
    channel = Channel()
    adapter.channel.attach(channel)
    adapter.send({"type": "opencharacters.state", "state": "listening"})
    assert json.loads(channel.sent[0]) == {"type": "opencharacters.state", "state": "listening"}
    channel.handlers["message"](json.dumps({"type": "END_CALL"}))
    adapter.connection_state_changed("closed")
    assert peer.events == ["connected", "end: END_CALL", "left: the caller left"]
    adapter.stop()
    assert adapter.audio_track.readyState == "ended"
