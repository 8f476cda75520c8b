"""The avatar voicing someone else's agent: the agent's audio is heard and mouthed at the same
instants, each utterance is reported started and finished (or cleared, with what was heard),
maxDuration ends the call."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from opencharacters.pipeline.audio_driven import PIECE_S, AudioDrivenAvatar, PlaybackFinished
from opencharacters.pipeline.call import CallSpec, Outcome
from opencharacters.pipeline.speaker import FRAME_SAMPLES, PLAYOUT_RATE, Speaker
from tests.support.pipeline import FakeFace
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit


class Reports:
    def __init__(self) -> None:
        self.started: list[float] = []
        self.finished: list[tuple[float, PlaybackFinished]] = []


def avatar(max_duration_s: int = 300) -> tuple[AudioDrivenAvatar, Speaker, FakeFace, Reports]:
    loop = asyncio.get_running_loop()
    speaker = Speaker(loop.time)
    face = FakeFace()
    reports = Reports()
    spec = CallSpec("s", "org", b"{}", "clara", "", None, max_duration_s)
    driven = AudioDrivenAvatar(
        spec,
        loop.time,
        speaker,
        face,
        on_started=lambda: reports.started.append(loop.time()),
        on_finished=lambda event: reports.finished.append((loop.time(), event)),
    )
    return driven, speaker, face, reports


def tone(seconds: float) -> np.ndarray:
    t = np.arange(round(seconds * PLAYOUT_RATE)) / PLAYOUT_RATE
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


async def play_out(speaker: Speaker, seconds: float) -> None:
    """The room's audio sender: reads the speaker frame by frame on the clock."""
    loop = asyncio.get_running_loop()
    index = int(loop.time() * PLAYOUT_RATE) // FRAME_SAMPLES
    for _ in range(round(seconds * PLAYOUT_RATE / FRAME_SAMPLES)):
        speaker.read(index * FRAME_SAMPLES)
        index += 1
        await asyncio.sleep(FRAME_SAMPLES / PLAYOUT_RATE)


@virtual_time
async def test_an_utterance_is_heard_mouthed_and_reported() -> None:
    driven, speaker, face, reports = avatar()
    number = driven.open_segment()
    for _ in range(10):  # 1 s in 0.1 s pieces, as fast as a TTS sends
        driven.push(number, tone(0.1))
    driven.close_segment(number)
    first, end = face.pushed[0].timestamp_s, speaker.queued_until_s
    assert len(face.pushed) == 10, "the mouth gets every piece at the instant it is heard"
    assert end - first == pytest.approx(1.0)
    await play_out(speaker, 1.5)
    assert reports.started == [pytest.approx(first)]
    ((at, finished),) = reports.finished
    assert at == pytest.approx(end) and finished == PlaybackFinished(1.0, False)


@virtual_time
async def test_small_pieces_are_gathered_before_they_are_scheduled() -> None:
    driven, _, face, _ = avatar()
    number = driven.open_segment()
    driven.push(number, tone(PIECE_S / 2))
    assert face.pushed == [], "too short to estimate mouth shapes from yet"
    driven.push(number, tone(PIECE_S / 2))
    assert len(face.pushed) == 1
    driven.push(number, tone(0.02))
    driven.close_segment(number)
    assert len(face.pushed) == 2, "the end of the utterance schedules what is left"


@virtual_time
async def test_clearing_stops_voice_and_mouth_and_reports_what_was_heard() -> None:
    driven, speaker, face, reports = avatar()
    number = driven.open_segment()
    driven.push(number, tone(2.0))
    sender = asyncio.ensure_future(play_out(speaker, 3.0))
    await asyncio.sleep(0.8)
    driven.clear()
    assert face.interrupts == 1
    ((_, cleared),) = reports.finished
    assert cleared.interrupted and 0.6 < cleared.position_s < 0.8
    driven.push(number, tone(0.5))
    driven.close_segment(number)  # the rest of that stream is not heard, not reported again
    now = asyncio.get_running_loop().time()
    assert speaker.queued_until_s - now < 0.05, "only the 5 ms fade is left to play"
    await sender
    assert len(reports.finished) == 1
    again = driven.open_segment()
    driven.push(again, tone(0.2))
    driven.close_segment(again)
    await play_out(speaker, 0.5)
    assert [event.interrupted for _, event in reports.finished] == [True, False]


@virtual_time
async def test_clearing_nothing_reports_nothing() -> None:
    driven, _, face, reports = avatar()
    driven.clear()
    assert reports.finished == [] and face.interrupts == 1


@virtual_time
async def test_max_duration_completes_the_call() -> None:
    driven, _, _, _ = avatar(max_duration_s=10)
    driven.connected()
    await driven.converse()
    assert driven.ending is not None and driven.ending.outcome is Outcome.COMPLETED
    assert driven.ending.reason == "maxDuration reached"
    assert driven.recording_duration_s() == pytest.approx(10)
