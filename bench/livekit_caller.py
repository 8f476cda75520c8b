"""A caller over the LiveKit transport for bench/live_bench.py, as Runway's browser SDK calls:
create the session, poll READY, consume, join the room with the token, publish a microphone.

It offers what live_bench's conversation needs of the WHIP `Caller` (say, the state waits,
`received`). LiveKit's SDK hands over no RTP timestamps, so the one-way delays the WHIP path
reads from them are not measured here; the lip sync is measured at the caller instead
(`lip_sync_offset_s`), for both transports alike."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from opencharacters.client.call import Received

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/live_bench.py`: the test caller is reused
    sys.path.insert(0, str(ROOT))
from tests.support.livekit import LiveKitCaller  # noqa: E402

RUNWAY_VERSION = "2024-11-06"


class _Room(LiveKitCaller):
    """The test caller, keeping every frame's arrival (for fps) and a small picture of each."""

    def __init__(self) -> None:
        super().__init__()
        self.video_times: list[float] = []
        self.pictures: list[tuple[float, np.ndarray[Any, Any]]] = []
        self.first_frame_at: float | None = None

    async def _watch(self, track: Any) -> None:
        rtc = self.rtc
        stream = rtc.VideoStream(track)
        self._closing.append(stream)
        async for event in stream:
            now = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = now
            self.video_times.append(now)
            frame = event.frame
            if frame.type != rtc.VideoBufferType.I420:
                frame = frame.convert(rtc.VideoBufferType.I420)
            luma = np.frombuffer(frame.data, dtype=np.uint8)[: frame.width * frame.height]
            self.pictures.append((now, luma.reshape(frame.height, frame.width)[::8, ::8].copy()))
            self.frame_size = (frame.width, frame.height)


class LiveKitBenchCaller:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        avatar_id: str,
        *,
        session_options: dict[str, Any] | None = None,
    ) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {api_key}", "X-Runway-Version": RUNWAY_VERSION}
        self.avatar_id = avatar_id
        self.session_options = session_options or {}
        self.room = _Room()
        self.received = Received(
            audio=self.room.audio, messages=self.room.messages, video_times=self.room.video_times
        )
        self.connected_at: float | None = None
        self._waited = False

    @property
    def first_frame_at(self) -> float | None:
        return self.room.first_frame_at

    async def __aenter__(self) -> LiveKitBenchCaller:
        credentials = await asyncio.to_thread(self._consume)
        await self.room.join(credentials["url"], credentials["token"])
        self.connected_at = time.monotonic()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.room.end_call()

    def _consume(self) -> dict[str, Any]:
        body = {
            "model": "gwm1_avatars",
            "avatar": {"type": "custom", "avatarId": self.avatar_id},
            **self.session_options,
        }
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60) as api:
            session_id = api.post("/v1/realtime_sessions", json=body).json()["id"]
            deadline = time.monotonic() + 60
            while True:
                session = api.get(f"/v1/realtime_sessions/{session_id}").json()
                if session["status"] == "READY":
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"session never READY: {session}")
                time.sleep(0.05)
            consumed = httpx.post(
                f"{self.base_url}/v1/realtime_sessions/{session_id}/consume",
                headers={"Authorization": f"Bearer {session['sessionKey']}"},
                timeout=60,
            )
            consumed.raise_for_status()
            credentials: dict[str, Any] = consumed.json()
            return credentials

    def say(self, samples: np.ndarray[Any, Any], sample_rate: int) -> asyncio.Future[float]:
        return self.room.say(samples, sample_rate)

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout_s: float) -> Any:
        return await self.room.wait_for(predicate, timeout_s, len(self.room.messages))

    def state(self) -> str | None:
        for _, message in reversed(self.room.messages):
            if message.get("type") == "opencharacters.state":
                return str(message.get("state"))
        return None

    async def wait_for_state(self, state: str, timeout_s: float) -> None:
        # The first wait (the greeting) counts a state entered while joining: LiveKit connects
        # the call once the caller has subscribed, which may precede this call.
        since = 0 if not self._waited else len(self.room.messages)
        self._waited = True
        await self.room.wait_for_state(state, timeout_s, since)

    async def wait_until_listening(self, timeout_s: float) -> None:
        if self.state() != "listening":
            await self.wait_for_state("listening", timeout_s)


def lip_sync_offset_s(
    audio: list[tuple[float, np.ndarray[Any, Any]]],
    pictures: list[tuple[float, np.ndarray[Any, Any]]],
    since: float,
) -> float:
    """The A/V offset as the caller sees it (video - audio, seconds): the lag that best lines
    up the mouth opening (each picture's distance from the most common, closed-mouth picture,
    where the pictures change most) with the loudness of the voice received, both on arrival
    times at 100 Hz. Positive: the mouth moves after the sound."""
    pictures = [(at, p) for at, p in pictures if at >= since]
    audio = [(at, s) for at, s in audio if at >= since]
    if len(pictures) < 50 or len(audio) < 100:
        return float("nan")
    stack = np.stack([p.astype(np.float32) for _, p in pictures])
    rest = np.median(stack, axis=0)
    variance = stack.var(axis=0).ravel()
    region = np.argsort(variance)[-max(20, variance.size // 100) :]
    opening = np.abs(stack - rest).reshape(len(stack), -1)[:, region].mean(axis=1)
    start = max(pictures[0][0], audio[0][0])
    end = min(pictures[-1][0], audio[-1][0])
    grid = np.arange(start, end, 0.01)
    video = np.interp(grid, [at for at, _ in pictures], opening)
    loud = np.interp(
        grid,
        [at for at, _ in audio],
        [float(np.sqrt(np.mean(s.astype(np.float64) ** 2))) for _, s in audio],
    )
    video, loud = video - video.mean(), loud - loud.mean()
    best, best_lag = -np.inf, 0
    for lag in range(-40, 41):  # ±0.4 s
        if lag >= 0:
            score = float(np.dot(video[lag:], loud[: len(loud) - lag]))
        else:
            score = float(np.dot(video[:lag], loud[-lag:]))
        if score > best:
            best, best_lag = score, lag
    return best_lag * 0.01
