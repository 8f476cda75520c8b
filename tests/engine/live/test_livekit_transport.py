"""The LiveKit adapter's own logic without a server: who counts as the caller, data packets into
the call's channel and out in order, and RPC failures as tool errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from livekit import rtc

from opencharacters.engine.live.livekit_media import rgba_buffer
from opencharacters.engine.live.livekit_room import AVATAR_IDENTITY, BACKEND_IDENTITY
from opencharacters.engine.live.livekit_transport import RoomData, is_caller, rpc_failure
from opencharacters.pipeline.channel import CallChannel

pytestmark = pytest.mark.unit


def test_only_consumes_tokens_make_callers() -> None:
    assert is_caller("caller:1a2b3c4d")
    assert not is_caller(AVATAR_IDENTITY)
    assert not is_caller(BACKEND_IDENTITY)
    assert not is_caller("someone")


def test_room_data_carries_the_calls_messages_both_ways() -> None:
    sent: list[str] = []
    ended: list[bool] = []
    channel = CallChannel("s", lambda: ended.append(True))
    channel.send({"type": "transcription", "role": "assistant", "turn": 1, "text": "Hi"})
    data = RoomData(sent.append)
    channel.attach(data)  # what was said before the room was joined goes out first
    channel.send({"type": "client_event", "tool": "show", "args": {"a": 1}})
    assert [json.loads(text)["type"] for text in sent] == ["transcription", "client_event"]
    data.receive(b'{"type":"hello"}')
    data.receive(b"\xff not utf-8")
    assert ended == []
    data.receive(json.dumps({"type": "END_CALL"}).encode())
    assert ended == [True]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (rtc.RpcError.ErrorCode.RECIPIENT_NOT_FOUND, "no backend is connected to this session"),
        (rtc.RpcError.ErrorCode.RECIPIENT_DISCONNECTED, "no backend is connected to this session"),
        (rtc.RpcError.ErrorCode.RESPONSE_TIMEOUT, "the backend did not answer within 2.5 s"),
        (rtc.RpcError.ErrorCode.UNSUPPORTED_METHOD, "the backend has no method 'show_order'"),
        (rtc.RpcError.ErrorCode.APPLICATION_ERROR, "order 42 is not ours"),
    ],
)
def test_rpc_failures_become_tool_errors(code: int, expected: str) -> None:
    error = rtc.RpcError(code, "order 42 is not ours")
    assert rpc_failure(error, "show_order", 2.5) == expected


def test_frames_go_out_as_the_rgba_bytes_of_the_rendered_image() -> None:
    image = np.random.default_rng(1).integers(0, 255, (7, 5, 3), dtype=np.uint8)
    buffer = rgba_buffer(image)
    assert isinstance(buffer, bytearray) and len(buffer) == 7 * 5 * 4
    rgba = np.frombuffer(buffer, dtype=np.uint8).reshape(7, 5, 4)
    assert (rgba[..., 0] == image[..., 2]).all() and (rgba[..., 2] == image[..., 0]).all()
    assert (rgba[..., 1] == image[..., 1]).all() and (rgba[..., 3] == 255).all()


class Peer:
    def __init__(self) -> None:
        self.events: list[str] = []

    def connected(self) -> None:
        self.events.append("connected")

    def left(self, reason: str) -> None:
        self.events.append(f"left: {reason}")

    def end_requested(self, reason: str) -> None:
        self.events.append(f"end: {reason}")

    def lost(self, reason: str, failure_code: str) -> None:
        self.events.append(f"{failure_code}: {reason}")

    def caller_audio_received(self, *_: object) -> None:
        pass

    def avatar_audio_sent(self, *_: object) -> None:
        pass

    def frame_sent(self, *_: object) -> None:
        pass


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (rtc.DisconnectReason.ROOM_DELETED, "left: the room closed"),
        (rtc.DisconnectReason.CLIENT_INITIATED, "left: the room closed"),
        (rtc.DisconnectReason.PARTICIPANT_REMOVED, "left: the room closed"),
        (rtc.DisconnectReason.SIGNAL_CLOSE, "MEDIA_SERVER_LOST: The connection to the LiveKit "),
        (rtc.DisconnectReason.CONNECTION_TIMEOUT, "MEDIA_SERVER_LOST: "),
        (rtc.DisconnectReason.SERVER_SHUTDOWN, "MEDIA_SERVER_LOST: "),
        (rtc.DisconnectReason.UNKNOWN_REASON, "MEDIA_SERVER_LOST: "),
    ],
)
async def test_a_room_closed_on_purpose_completes_the_call_and_a_lost_server_fails_it(
    reason: int, expected: str
) -> None:
    transport, peer = bound_transport()
    transport._room_closed(reason)
    assert len(peer.events) == 1 and peer.events[0].startswith(expected), peer.events
    if expected.startswith("MEDIA_SERVER_LOST"):
        assert rtc.DisconnectReason.Name(reason) in peer.events[0]
    transport.stop()
    transport._room_closed(rtc.DisconnectReason.SIGNAL_CLOSE)  # ended here first: nothing more
    assert len(peer.events) == 1


def bound_transport() -> tuple[Any, Peer]:
    """Made inside a running loop (the tests are async): the SDK's Room takes the current one."""
    from opencharacters.engine.live.livekit_transport import LiveKitTransport
    from opencharacters.pipeline.clock import SessionClock
    from opencharacters.pipeline.speaker import Speaker
    from opencharacters.settings import LiveKitSettings
    from tests.support.pipeline import FakeFace

    clock = SessionClock()
    transport = LiveKitTransport(
        "s",
        clock,
        Speaker(clock.now),
        FakeFace(),  # type: ignore[arg-type]
        LiveKitSettings(),
        (64, 64),
    )
    peer = Peer()
    transport.bind(peer)  # type: ignore[arg-type]
    return transport, peer


class Participant:
    identity = "caller:1a2b3c4d"


async def test_the_caller_leaving_completes_the_call_unless_the_server_connection_broke() -> None:
    transport, peer = bound_transport()
    transport._caller = Participant.identity
    transport._participant_left(Participant())  # type: ignore[arg-type]
    assert peer.events == ["left: the caller left"]

    transport, peer = bound_transport()
    transport._caller = Participant.identity
    transport._reconnecting()
    transport._participant_left(Participant())  # type: ignore[arg-type]
    assert len(peer.events) == 1 and peer.events[0].startswith("MEDIA_SERVER_LOST: ")
    assert "while the connection was being restored" in peer.events[0]


async def test_a_room_rebuilt_without_its_caller_after_a_reconnect_fails_the_call() -> None:
    transport, peer = bound_transport()
    transport._caller = Participant.identity
    transport._reconnecting()
    transport._reconnected()  # the SDK's room has no remote participants: the caller is gone
    assert len(peer.events) == 1 and "came back without its caller" in peer.events[0]
