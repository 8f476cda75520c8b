"""The LiveKit adapter's own logic without a server: who counts as the caller, data packets into
the call's channel and out in order, and RPC failures as tool errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from livekit import rtc

from opencharacters.engine.live.livekit_room import AVATAR_IDENTITY, BACKEND_IDENTITY
from opencharacters.engine.live.livekit_transport import (
    RoomData,
    is_caller,
    rgba_buffer,
    rpc_failure,
)
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
