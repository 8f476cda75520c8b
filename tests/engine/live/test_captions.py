from __future__ import annotations

import pytest

from opencharacters.pipeline.captions import SpokenReply

pytestmark = pytest.mark.unit


def test_words_fall_inside_their_speech_in_order() -> None:
    reply = SpokenReply()
    words = reply.add("Hello there, friend.", 1.0, 2.0)
    assert [w.text for w in words] == ["Hello", " there,", " friend."]
    times = [w.at_s for w in words]
    assert times == sorted(times)
    assert 1.0 <= times[0] < times[-1] < 2.0


def test_heard_by_keeps_only_the_words_already_heard() -> None:
    reply = SpokenReply()
    reply.add("One two three four.", 0.0, 2.0)
    reply.add("Five six.", 2.5, 3.5)
    assert reply.heard_by(-1) == ""
    partial = reply.heard_by(1.0)
    assert partial and "One two three four. Five six.".startswith(partial)
    assert partial != reply.text
    assert reply.heard_by(10) == "One two three four. Five six."
    assert reply.start_s == 0.0 and reply.end_s == 3.5


def test_text_without_words_adds_nothing() -> None:
    reply = SpokenReply()
    assert reply.add("   ", 0.0, 1.0) == []
    assert reply.start_s is None
