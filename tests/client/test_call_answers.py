"""Waiting for the avatar's answer to a clip, with the data-channel messages played in by hand
and the microphone pulled as the RTP sender pulls it (the live version with a real server is
tests/engine/live/test_call_command.py)."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import pytest

from opencharacters.client.call import MIC_RATE, Caller, CallTimeout

pytestmark = pytest.mark.unit


def state(call: Caller, name: str) -> None:
    call._on_message(json.dumps({"type": "opencharacters.state", "state": name}))


async def pull_microphone(call: Caller) -> None:
    while True:
        await call.microphone.recv()


def clip(seconds: float) -> np.ndarray:
    return np.zeros(int(MIC_RATE * seconds), dtype=np.float32)


async def test_an_answer_given_before_the_clip_ends_counts() -> None:
    call = Caller("http://127.0.0.1:9", "key", "avatar")
    state(call, "speaking")  # the greeting: before the clip, so not its answer
    state(call, "listening")
    sender = asyncio.ensure_future(pull_microphone(call))
    try:
        started = time.monotonic()
        waiting = asyncio.ensure_future(call.say_and_wait_for_answer(clip(1.0), MIC_RATE, 0.5))
        await asyncio.sleep(0.2)  # the words end; the rest of the clip is silence
        for name in ("thinking", "speaking", "listening"):
            state(call, name)
            await asyncio.sleep(0.05)
        await asyncio.wait_for(waiting, 5)
        # It returns once the whole clip is sent, not before, and not a timeout later.
        assert 0.95 < time.monotonic() - started < 1.6
    finally:
        sender.cancel()


async def test_no_answer_is_a_timeout_counted_from_the_clip_end() -> None:
    call = Caller("http://127.0.0.1:9", "key", "avatar")
    state(call, "speaking")
    state(call, "listening")
    sender = asyncio.ensure_future(pull_microphone(call))
    try:
        started = time.monotonic()
        with pytest.raises(CallTimeout, match=r"did not answer within 0\.3 s of the clip"):
            await call.say_and_wait_for_answer(clip(0.4), MIC_RATE, 0.3)
        assert 0.65 < time.monotonic() - started < 1.5
    finally:
        sender.cancel()
