"""The peer watch's decisions, with a scripted probe: when it asks the server, what it concludes,
how fast. (The real thing, a server killed mid-call, is in tests/engine/live/test_call_command.)"""

from __future__ import annotations

import asyncio
import time

import pytest

from opencharacters.client.errors import PeerGone
from opencharacters.client.peer_watch import PeerWatch

pytestmark = pytest.mark.unit


class Probe:
    """Answers as a server would: None while alive, a reason once it is gone."""

    def __init__(self, answer: str | None = None) -> None:
        self.answer = answer
        self.calls = 0

    async def __call__(self) -> str | None:
        self.calls += 1
        return self.answer


def watch_with(probe: Probe, lost: list[PeerGone], media_timeout_s: float = 1.0) -> PeerWatch:
    return PeerWatch(
        probe, lost.append, media_timeout_s=media_timeout_s, probe_after_s=0.1, poll_s=0.02
    )


async def feed_media(watch: PeerWatch, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        watch.media_arrived()
        await asyncio.sleep(0.02)


async def test_flowing_media_never_asks_the_server() -> None:
    probe, lost = Probe("the server at x refuses connections"), []
    watch = watch_with(probe, lost)
    watch.start()
    await feed_media(watch, 0.5)
    await watch.stop()
    assert probe.calls == 0 and not lost and watch.lost is None


async def test_silence_then_a_refused_probe_is_a_loss_within_the_probe_delay() -> None:
    probe, lost = Probe("the server at http://x refuses connections"), []
    noticed = asyncio.Event()
    watch = PeerWatch(
        probe,
        lambda error: (lost.append(error), noticed.set()),
        media_timeout_s=1.0,
        probe_after_s=0.1,
        poll_s=0.02,
    )
    watch.start()
    started = time.monotonic()
    await asyncio.wait_for(noticed.wait(), 2)
    await watch.stop()
    assert lost and time.monotonic() - started < 0.5
    assert str(lost[0]).startswith("call lost: no audio or video for 0.1")
    assert "refuses connections" in str(lost[0])
    with pytest.raises(PeerGone, match="refuses connections"):
        watch.raise_if_lost()


async def test_a_live_but_silent_server_is_given_up_after_the_media_timeout() -> None:
    probe, lost = Probe(None), []
    watch = watch_with(probe, lost, media_timeout_s=0.6)
    watch.start()
    await asyncio.sleep(0.4)
    assert not lost and probe.calls >= 2  # asked every probe_after_s meanwhile
    await asyncio.sleep(0.5)
    await watch.stop()
    assert len(lost) == 1
    assert "no audio or video from the server for 1 s" in str(lost[0])
    assert "still reports the session" in str(lost[0])


async def test_a_closed_channel_is_explained_by_the_server() -> None:
    probe, lost = Probe("the session ended FAILED (The server shut down.)"), []
    watch = watch_with(probe, lost)
    watch.start()
    watch.signal("the data channel closed")
    await feed_media(watch, 0.2)
    await watch.stop()
    assert [str(e) for e in lost] == [
        "call lost: the data channel closed: the session ended FAILED (The server shut down.)"
    ]


async def test_our_own_hang_up_is_not_a_loss() -> None:
    probe, lost = Probe("the server at x refuses connections"), []
    watch = watch_with(probe, lost)
    watch.start()
    await watch.stop()
    watch.signal("the data channel closed")
    await asyncio.sleep(0.3)
    assert not lost and probe.calls == 0
