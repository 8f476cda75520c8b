"""The hold a reply's listener puts on the model: released, stopped, or timed out."""

from __future__ import annotations

import threading
import time

import pytest

from opencharacters.dialogue.backend import WritingHold

pytestmark = pytest.mark.unit


def test_a_hold_ends_when_released_from_another_thread() -> None:
    hold = WritingHold()
    hold.hold()
    assert hold.held
    threading.Timer(0.05, hold.release).start()
    started = time.monotonic()
    hold.wait_released(threading.Event(), limit_s=5.0)
    assert not hold.held
    assert time.monotonic() - started < 1.0


def test_a_stopped_reply_does_not_wait_for_the_release() -> None:
    hold = WritingHold()
    hold.hold()
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    started = time.monotonic()
    hold.wait_released(stop, limit_s=5.0)
    assert time.monotonic() - started < 1.0
    assert hold.held  # stopping the reply does not release anyone else's hold


def test_a_hold_never_released_lets_the_model_go_on_after_its_limit() -> None:
    hold = WritingHold()
    hold.hold()
    started = time.monotonic()
    hold.wait_released(threading.Event(), limit_s=0.1)
    assert 0.1 <= time.monotonic() - started < 1.0


def test_a_model_not_held_never_waits() -> None:
    started = time.monotonic()
    WritingHold().wait_released(threading.Event(), limit_s=5.0)
    assert time.monotonic() - started < 0.1
