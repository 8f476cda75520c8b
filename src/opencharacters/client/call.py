"""A Python caller for live sessions: the whole public flow a user's app runs.

create session → poll until READY → consume (sessionKey) → WHIP offer with a microphone track,
a receive-only video transceiver and a data channel → talk → END_CALL and hang up. When consume
returns a LiveKit server URL (OPENCHARACTERS_TRANSPORT=livekit), the same call runs in that
LiveKit room instead (client/livekit_link.py): microphone published, the avatar's voice and face
subscribed, the same messages as data packets.

It is what `opencharacters call` runs, what the end-to-end tests and the benchmark drive, and a
reference for anyone writing their own client."""

from __future__ import annotations

import asyncio
import fractions
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import av
import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

# Re-exported: callers catch these as `opencharacters.client.call.CallError` etc.
from opencharacters.client.errors import CallError as CallError
from opencharacters.client.errors import CallTimeout as CallTimeout
from opencharacters.client.errors import PeerGone as PeerGone
from opencharacters.client.peer_watch import PeerWatch
from opencharacters.media.audio import Samples, float_to_int16, resample

if TYPE_CHECKING:
    from opencharacters.client.livekit_link import LiveKitLink

log = logging.getLogger(__name__)

MIC_RATE = 48_000
HANG_UP_TIMEOUT_S = 3.0
PROBE_TIMEOUT_S = 2.0
MIC_FRAME = 960
RUNWAY_VERSION = "2024-11-06"


def is_livekit_url(url: str) -> bool:
    """consume returns a LiveKit server's WebSocket URL with the LiveKit transport, an http(s)
    WHIP endpoint otherwise."""
    return url.lower().startswith(("ws://", "wss://"))


def _is_state(message: dict[str, Any], state: str) -> bool:
    return message.get("type") == "opencharacters.state" and message.get("state") == state


class Microphone(MediaStreamTrack):
    """Sends silence, or a clip when asked to, in real time (20 ms frames)."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: list[tuple[Samples, asyncio.Future[float]]] = []
        self._current: Samples | None = None
        self._position = 0
        self._done: asyncio.Future[float] | None = None
        self._started: float | None = None
        self._index = 0
        self.speech_end_wall: float | None = None

    def say(self, samples: Samples, sample_rate: int) -> asyncio.Future[float]:
        """Queues a clip; the future gives the wall time (time.monotonic) its last sample left."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._queue.append((resample(samples, sample_rate, MIC_RATE), future))
        return future

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic()
        due = self._started + self._index * MIC_FRAME / MIC_RATE
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        out = np.zeros(MIC_FRAME, dtype=np.float32)
        filled = 0
        while filled < MIC_FRAME:
            if self._current is None:
                if not self._queue:
                    break
                self._current, self._done = self._queue.pop(0)
                self._position = 0
            take = min(MIC_FRAME - filled, len(self._current) - self._position)
            out[filled : filled + take] = self._current[self._position : self._position + take]
            filled += take
            self._position += take
            if self._position >= len(self._current):
                if self._done is not None and not self._done.done():
                    self._done.set_result(due + filled / MIC_RATE)
                self._current = None
        pcm = float_to_int16(out).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = MIC_RATE
        frame.pts = self._index * MIC_FRAME
        frame.time_base = fractions.Fraction(1, MIC_RATE)
        self._index += 1
        return frame


@dataclass(slots=True)
class Received:
    """What came down: the avatar's audio (48 kHz mono), video frames, data-channel messages.
    Times are `time.monotonic()` on arrival."""

    audio: list[tuple[float, Samples]] = field(default_factory=list)
    audio_pts: list[int] = field(default_factory=list)
    """RTP timestamps (48 kHz) of the audio frames, for delay measurements."""
    video_times: list[float] = field(default_factory=list)
    video_pts: list[int] = field(default_factory=list)
    """RTP timestamps (90 kHz) of the video frames."""
    video_frames: list[tuple[float, np.ndarray[Any, Any]]] = field(default_factory=list)
    messages: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    video_size: tuple[int, int] | None = None

    def transcript(self, role: str) -> dict[int, str]:
        """Runway's flat deltas joined per turn, as Runway's clients do."""
        turns: dict[int, str] = {}
        for _, message in self.messages:
            if message.get("type") == "transcription" and message.get("role") == role:
                turn = int(message.get("turn", 0))
                turns[turn] = turns.get(turn, "") + str(message.get("text", ""))
        return turns

    def audio_samples(self) -> Samples:
        if not self.audio:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate([samples for _, samples in self.audio])

    def fps(self, since: float | None = None) -> float:
        times = [t for t in self.video_times if since is None or t >= since]
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])


class Caller:
    """One call, from session creation to hang-up. Use `async with Caller(...) as call:`."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        avatar_id: str,
        *,
        media_timeout_s: float = 15.0,
        session_options: dict[str, Any] | None = None,
        keep_frames: bool = False,
        ready_timeout_s: float = 30.0,
        on_waiting: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.avatar_id = avatar_id
        self.session_options = session_options or {}
        self.keep_frames = keep_frames
        self.ready_timeout_s = ready_timeout_s
        self.on_waiting = on_waiting
        """Called with the session at each poll while it is NOT_READY (queued for a slot)."""
        self.session_id: str | None = None
        self.microphone = Microphone()
        self.received = Received()
        self.peer: RTCPeerConnection | None = None
        self.channel: Any = None
        self.livekit: LiveKitLink | None = None
        """The LiveKit room's link, when consume chose LiveKit (then `peer` stays None)."""
        self._joined = False
        self._http: aiohttp.ClientSession | None = None
        self._location: str | None = None
        self._token: str | None = None
        self._readers: list[asyncio.Task[None]] = []
        self._message_waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[float]]]
        self._message_waiters = []
        self.connected_at: float | None = None
        self.first_frame_at: float | None = None
        self.watch = PeerWatch(self._probe, self._fail_waiters, media_timeout_s=media_timeout_s)

    async def __aenter__(self) -> Caller:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.hang_up()

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}", "X-Runway-Version": RUNWAY_VERSION}

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        assert self._http is not None
        try:
            async with self._http.request(method, self.base_url + path, **kwargs) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise CallError(f"{method} {path}: cannot reach {self.base_url} ({reason})") from None
        if response.status >= 400:
            raise CallError(f"{method} {path} -> {response.status}: {text[:300]}")
        return json.loads(text) if text else None

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        try:
            await self._start()
        except BaseException:
            await self.hang_up()
            raise

    async def _start(self) -> None:
        body = {
            "model": "gwm1_avatars",
            "avatar": {"type": "custom", "avatarId": self.avatar_id},
            **self.session_options,
        }
        created = await self._json(
            "POST", "/v1/realtime_sessions", json=body, headers=self._headers()
        )
        self.session_id = str(created["id"])
        key = await self._wait_ready()
        consumed = await self._json(
            "POST",
            f"/v1/realtime_sessions/{self.session_id}/consume",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        url, token = str(consumed["url"]), str(consumed["token"])
        if is_livekit_url(url):
            await self._join_livekit(url, token)
        else:
            await self._connect(url, token)

    async def _wait_ready(self) -> str:
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            session = await self._json(
                "GET", f"/v1/realtime_sessions/{self.session_id}", headers=self._headers()
            )
            status = session["status"]
            if status == "READY":
                return str(session["sessionKey"])
            if status in ("COMPLETED", "FAILED", "CANCELLED"):
                raise CallError(f"the session ended before it was ready: {session}")
            if self.on_waiting is not None:
                self.on_waiting(session)
            if time.monotonic() > deadline:
                ahead = session.get("sessionsAhead")
                where = (
                    f"still queued behind {ahead} session{'' if ahead == 1 else 's'}"
                    if ahead
                    else "not READY"
                )
                raise CallError(
                    f"the session was {where} after {self.ready_timeout_s:g} s; it was cancelled"
                )
            await asyncio.sleep(0.1)

    async def _connect(self, url: str, token: str) -> None:
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.peer = peer
        peer.addTransceiver(self.microphone, direction="sendrecv")
        peer.addTransceiver("video", direction="recvonly")
        self.channel = peer.createDataChannel("events")
        self.channel.on("message", self._on_message)
        channel_open = asyncio.Event()
        self.channel.on("open", channel_open.set)
        peer.on("track", self._on_track)
        connected = asyncio.Event()

        @peer.on("connectionstatechange")
        def _changed() -> None:
            if peer.connectionState == "connected":
                self.connected_at = time.monotonic()
                connected.set()
            elif peer.connectionState in ("failed", "closed"):
                self.watch.signal(f"the media connection {peer.connectionState}")

        self.channel.on("close", lambda: self.watch.signal("the data channel closed"))

        await peer.setLocalDescription(await peer.createOffer())
        assert peer.localDescription is not None and self._http is not None
        async with self._http.post(
            url,
            data=peer.localDescription.sdp,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/sdp"},
        ) as response:
            answer = await response.text()
            if response.status != 201:
                raise CallError(f"WHIP offer -> {response.status}: {answer[:300]}")
            location = response.headers.get("Location")
        self._token = token
        self._location = location
        self._joined = True
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        for what, ready in (("media connection", connected), ("data channel", channel_open)):
            try:
                await asyncio.wait_for(ready.wait(), timeout=20)
            except TimeoutError:
                raise CallTimeout(f"the {what} did not open within 20 s") from None
        self.watch.start()

    async def _join_livekit(self, url: str, token: str) -> None:
        from opencharacters.client.livekit_link import LiveKitLink

        self.livekit = LiveKitLink(self, self.microphone.recv)
        await self.livekit.join(url, token)
        self._joined = True  # until here, hanging up cancels the session (nobody joined it)
        self.connected_at = time.monotonic()
        self.watch.start()

    # ----- the LiveKit link's media sink (see client/livekit_link.py) ------------------------

    def audio_arrived(self, samples: Samples, pts: int) -> None:
        self.watch.media_arrived()
        self.received.audio.append((time.monotonic(), samples))
        self.received.audio_pts.append(pts)

    async def video_arrived(
        self, width: int, height: int, pts: int, to_bgr: Callable[[], np.ndarray[Any, Any]]
    ) -> None:
        self.watch.media_arrived()
        now = time.monotonic()
        if self.first_frame_at is None:
            self.first_frame_at = now
        self.received.video_times.append(now)
        self.received.video_pts.append(pts)
        self.received.video_size = (width, height)
        if self.keep_frames:
            self.received.video_frames.append((now, await asyncio.to_thread(to_bgr)))

    def message_arrived(self, raw: str | bytes) -> None:
        self._on_message(raw)

    def media_ending(self, what: str) -> None:
        self.watch.signal(what)

    def _on_track(self, track: Any) -> None:
        reader = self._read_audio if track.kind == "audio" else self._read_video
        self._readers.append(asyncio.ensure_future(reader(track)))

    async def _read_audio(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.watch.signal("the server ended the audio track")
                return
            self.watch.media_arrived()
            pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)).mean(axis=1)
            samples = (pcm / 32768.0).astype(np.float32)
            if frame.sample_rate != MIC_RATE:
                samples = resample(samples, frame.sample_rate, MIC_RATE)
            self.received.audio.append((time.monotonic(), samples))
            self.received.audio_pts.append(int(frame.pts or 0))

    async def _read_video(self, track: Any) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                self.watch.signal("the server ended the video track")
                return
            self.watch.media_arrived()
            now = time.monotonic()
            if self.first_frame_at is None:
                self.first_frame_at = now
            self.received.video_times.append(now)
            self.received.video_pts.append(int(frame.pts or 0))
            self.received.video_size = (frame.width, frame.height)
            if self.keep_frames:
                image = await asyncio.to_thread(frame.to_ndarray, format="bgr24")
                self.received.video_frames.append((now, image))

    def _on_message(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        now = time.monotonic()
        self.received.messages.append((now, message))
        for predicate, future in list(self._message_waiters):
            if not future.done() and predicate(message):
                future.set_result(now)
                self._message_waiters.remove((predicate, future))

    async def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        timeout_s: float = 60.0,
        *,
        what: str = "the awaited message",
    ) -> float:
        """Waits for a data-channel message; returns its arrival time (monotonic).
        Raises `PeerGone` as soon as the server is found gone, `CallTimeout` after `timeout_s`."""
        self.watch.raise_if_lost()
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._message_waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            raise CallTimeout(f"{what} did not come within {timeout_s:g} s") from None
        finally:
            if (predicate, future) in self._message_waiters:
                self._message_waiters.remove((predicate, future))

    def _fail_waiters(self, error: CallError) -> None:
        for _, future in self._message_waiters:
            if not future.done():
                future.set_exception(error)

    def _state_index(self, state: str, since: int) -> int | None:
        messages = self.received.messages
        for index in range(since, len(messages)):
            if _is_state(messages[index][1], state):
                return index
        return None

    async def wait_for_state_since(self, state: str, since: int, timeout_s: float = 60.0) -> int:
        """Waits until the avatar entered `state` in message `since` or later (an index into
        `received.messages`); returns that message's index."""
        index = self._state_index(state, since)
        if index is None:
            what = f"the avatar's '{state}' state"
            await self.wait_for(lambda m: _is_state(m, state), timeout_s, what=what)
            index = self._state_index(state, since)
            assert index is not None
        return index

    async def wait_for_state(
        self, state: str, timeout_s: float = 60.0, *, seen_ok: bool = False
    ) -> float:
        """Waits for the avatar to enter `state`; with `seen_ok`, a state it already entered
        counts (e.g. a greeting that started while another call was connecting)."""
        since = 0 if seen_ok else len(self.received.messages)
        index = await self.wait_for_state_since(state, since, timeout_s)
        return self.received.messages[index][0]

    def state(self) -> str | None:
        for _, message in reversed(self.received.messages):
            if message.get("type") == "opencharacters.state":
                return str(message.get("state"))
        return None

    async def wait_until_listening(self, timeout_s: float = 60.0) -> None:
        """Until the avatar has said what it is saying and listens again."""
        if self.state() != "listening":
            await self.wait_for_state("listening", timeout_s)

    def say(self, samples: Samples, sample_rate: int) -> asyncio.Future[float]:
        return self.microphone.say(samples, sample_rate)

    async def say_and_wait_for_answer(
        self, samples: Samples, sample_rate: int, timeout_s: float = 60.0
    ) -> None:
        """Says a clip, then waits until the avatar has answered it and listens again.

        The answer counts from the moment the clip starts: the avatar answers when the words
        end, not the file, so a clip with a long silence after its words is often answered
        (even finished) before its last sample is sent. `timeout_s` runs from the clip's end."""
        since = len(self.received.messages)
        sent = self.say(samples, sample_rate)
        clip_s = len(samples) / sample_rate
        try:
            speaking = await self.wait_for_state_since("speaking", since, clip_s + timeout_s)
        except CallTimeout:
            raise CallTimeout(
                f"the avatar did not answer within {timeout_s:g} s of the clip's end"
            ) from None
        await self.wait_for_state_since("listening", speaking + 1, clip_s + 2 * timeout_s)
        while not sent.done():  # the rest of the clip's silence; the server may die meanwhile
            self.watch.raise_if_lost()
            await asyncio.wait({sent}, timeout=0.25)

    def send_end_call(self) -> None:
        self.watch.expect_end()  # the server closing the call now is the answer, not a loss
        if self.livekit is not None:
            self.livekit.send({"type": "END_CALL"})
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps({"type": "END_CALL"}))

    async def hang_up(self) -> None:
        """END_CALL on the data channel, then WHIP DELETE (or leaving the LiveKit room);
        idempotent, and safe when the server is already gone."""
        if self._http is None:
            return
        http, self._http = self._http, None
        try:
            if self.session_id is not None and not self._joined:
                await self._cancel_session(http)
            self.send_end_call()
            await asyncio.sleep(0.2)
            if self._location and self._token:
                location, self._location = self._location, None
                try:
                    async with http.delete(
                        location,
                        headers={"Authorization": f"Bearer {self._token}"},
                        timeout=aiohttp.ClientTimeout(total=HANG_UP_TIMEOUT_S),
                    ) as response:
                        await response.read()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    log.info("hang-up request failed (%r); closing the peer anyway", exc)
        finally:
            await self.watch.stop()
            if self.livekit is not None:
                await self.livekit.close()
            if self.peer is not None:
                try:
                    await asyncio.wait_for(self.peer.close(), HANG_UP_TIMEOUT_S)
                except TimeoutError:
                    log.info("the peer connection did not close in time")
            for reader in self._readers:
                reader.cancel()
            await asyncio.gather(*self._readers, return_exceptions=True)
            await http.close()

    async def _probe(self) -> str | None:
        """For the peer watch: why the call is over, as the API tells it, or None."""
        http = self._http
        if http is None:
            return None
        try:
            async with http.get(
                f"{self.base_url}/v1/realtime_sessions/{self.session_id}",
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=PROBE_TIMEOUT_S),
            ) as response:
                session = await response.json() if response.status == 200 else {}
        except aiohttp.ClientConnectionError:
            return f"the server at {self.base_url} refuses connections"
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None  # slow or odd, not conclusively gone: the media timeout decides
        status = session.get("status")
        if status not in ("COMPLETED", "FAILED", "CANCELLED"):
            return None
        failure = session.get("failure")
        return f"the session ended {status}" + (f" ({failure})" if failure else "")

    async def last_known_session(self) -> dict[str, Any] | None:
        """The session as the server reports it now, or None when the server cannot be
        reached within a few seconds (after the server died mid-call)."""
        try:
            return await asyncio.wait_for(self.session(), HANG_UP_TIMEOUT_S)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def _cancel_session(self, http: aiohttp.ClientSession) -> None:
        """A session created but never joined (still queued, or READY when the caller gave up or
        was interrupted) would hold a call slot until its credentials expire: cancel it."""
        url = f"{self.base_url}/v1/realtime_sessions/{self.session_id}"
        try:
            async with http.delete(url, headers=self._headers()) as response:
                await response.read()
        except aiohttp.ClientError as exc:
            log.warning("could not cancel session %s (%s)", self.session_id, exc)

    async def session(self) -> dict[str, Any]:
        http = self._http or aiohttp.ClientSession()
        try:
            async with http.get(
                f"{self.base_url}/v1/realtime_sessions/{self.session_id}", headers=self._headers()
            ) as response:
                result: dict[str, Any] = await response.json()
                return result
        finally:
            if http is not self._http:
                await http.close()


def speech_onsets(samples: Samples, rate: int, threshold: float = 0.01) -> list[float]:
    """Seconds at which the signal rises above `threshold` RMS (20 ms windows) after silence."""
    window = rate // 50
    count = len(samples) // window
    if count == 0:
        return []
    rms = np.sqrt(np.mean(samples[: count * window].reshape(count, window) ** 2, axis=1))
    onsets: list[float] = []
    loud = False
    for i, value in enumerate(rms):
        if value >= threshold and not loud:
            onsets.append(i * window / rate)
        loud = value >= threshold or (loud and value >= threshold / 2)
    return onsets


def seconds(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"
