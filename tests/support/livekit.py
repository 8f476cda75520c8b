"""A real livekit-server process for tests, on loopback, with generated keys and free ports.

`make setup` builds the pinned binary into .tools/bin (scripts/setup-livekit.sh). Without it the
LiveKit tests skip on a developer's machine and fail in CI, where it must be there."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from opencharacters.media.audio import Samples
from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / ".tools" / "bin" / "livekit-server"
BUILD_HINT = "scripts/setup-livekit.sh (run by `make setup`) builds it"


def binary() -> Path:
    """The pinned livekit-server, or a skip (a failure in CI) when it was not built."""
    override = os.environ.get("OPENCHARACTERS_TEST_LIVEKIT_SERVER")
    path = Path(override) if override else BINARY
    if path.is_file() and os.access(path, os.X_OK):
        return path
    message = f"livekit-server not found at {path}: {BUILD_HINT}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


class LiveKitServer:
    """One single-node livekit-server: signalling and API on `port`, ICE/TCP and muxed UDP on
    two more ports, advertising 127.0.0.1 only (no external-IP lookup)."""

    def __init__(
        self,
        log_dir: Path,
        *,
        redis: str | None = None,
        keys: tuple[str, str] | None = None,
        name: str = "livekit-server",
    ) -> None:
        self.redis = redis
        """host:port of a Redis that several nodes share (multi-node routing); None: one node."""
        self.port = free_port()
        self.tcp_port = free_port()
        self.udp_port = free_port()
        self.api_key, self.api_secret = keys or (
            f"APItest{secrets.token_hex(4)}",
            secrets.token_urlsafe(32),
        )
        self.url = f"ws://127.0.0.1:{self.port}"
        self.http_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.config_path = log_dir / f"{name}.yaml"
        self.process: subprocess.Popen[bytes] | None = None

    def config(self) -> str:
        return "\n".join(
            [
                f"port: {self.port}",
                "bind_addresses: ['127.0.0.1']",
                "rtc:",
                f"  tcp_port: {self.tcp_port}",
                f"  udp_port: {self.udp_port}",
                "  node_ip: 127.0.0.1",
                "  use_external_ip: false",
                "  enable_loopback_candidate: true",
                "keys:",
                f"  {self.api_key}: {self.api_secret}",
                "logging:",
                "  level: info",
                "room:",
                "  empty_timeout: 30",
                *(
                    [
                        f"redis: {{address: '{self.redis}'}}",
                        # Each new room on the node holding the fewest: rooms spread evenly.
                        "node_selector: {kind: any, sort_by: rooms, algorithm: lowest}",
                    ]
                    if self.redis
                    else []
                ),
                "",
            ]
        )

    def start(self, timeout_s: float = 30) -> LiveKitServer:
        executable = binary()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        self.config_path.chmod(0o600)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(executable), "--config", str(self.config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"livekit-server exited early:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.http_url, timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"livekit-server did not start:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the node vanishes mid-call, as when its machine dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def server_env(self) -> dict[str, str]:
        """What `opencharacters serve` needs to run its calls in this server's rooms."""
        return {
            "OPENCHARACTERS_TRANSPORT": "livekit",
            "OPENCHARACTERS_LIVEKIT__URL": self.url,
            "OPENCHARACTERS_LIVEKIT__API_KEY": self.api_key,
            "OPENCHARACTERS_LIVEKIT__API_SECRET": self.api_secret,
        }


@contextlib.contextmanager
def livekit_server(log_dir: Path) -> Iterator[LiveKitServer]:
    server = LiveKitServer(log_dir).start()
    try:
        yield server
    finally:
        server.stop()


MIC_RATE = 48_000
MIC_FRAME = 480  # 10 ms


class LiveKitCaller:
    """A caller as Runway's browser SDK is one: joins the room consume named with its token,
    publishes a microphone (silence, or a clip when told to speak), plays every remote track,
    reads data messages and sends END_CALL. Built on the `livekit` rtc SDK."""

    def __init__(self) -> None:
        from livekit import rtc

        self.rtc = rtc
        self.room = rtc.Room()
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.audio: list[tuple[float, Samples]] = []
        self.frames: list[tuple[float, np.ndarray[Any, Any]]] = []
        """Every fifth frame the avatar sent, a quarter of its size."""
        self.video_sources: list[int] = []
        self.audio_sources: list[int] = []
        self.avatar_identity: str | None = None
        self.disconnected = asyncio.Event()
        self.frame_size: tuple[int, int] | None = None
        self.frame_count = 0
        self._clips: list[tuple[Samples, asyncio.Future[float]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: list[Any] = []
        """Native streams and sources, closed on leaving (left to the garbage collector, the
        SDK's native side may call back into a closed event loop)."""
        self._left = False
        self._changed = asyncio.Event()

    async def join(self, url: str, token: str) -> None:
        rtc = self.rtc
        self.room.on("data_received", self._data)
        self.room.on("track_subscribed", self._subscribed)
        self.room.on("disconnected", lambda *_: self.disconnected.set())
        await self.room.connect(url, token, rtc.RoomOptions(auto_subscribe=True))
        source = rtc.AudioSource(MIC_RATE, 1, queue_size_ms=100)
        self._closing.append(source)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        await self.room.local_participant.publish_track(
            track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        )
        self._tasks.append(asyncio.ensure_future(self._microphone(source)))

    async def leave(self) -> None:
        if self._left:
            return
        self._left = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for native in self._closing:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(native.aclose(), 2)
        await self.room.disconnect()

    async def end_call(self) -> None:
        """What Runway's SDK does on End: END_CALL (reliable), then leave."""
        payload = json.dumps({"type": "END_CALL"})
        await self.room.local_participant.publish_data(payload, reliable=True)
        await asyncio.sleep(0.3)
        await self.leave()

    def say(self, samples: Samples, sample_rate: int) -> asyncio.Future[float]:
        from opencharacters.media.audio import resample

        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._clips.append((resample(samples, sample_rate, MIC_RATE), future))
        return future

    # ----- what arrives ----------------------------------------------------------------------

    def _data(self, packet: Any) -> None:
        with contextlib.suppress(ValueError):
            message = json.loads(packet.data)
            if isinstance(message, dict):
                self.messages.append((time.monotonic(), message))
                self._changed.set()

    def _subscribed(self, track: Any, publication: Any, participant: Any) -> None:
        rtc = self.rtc
        self.avatar_identity = participant.identity
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            self.video_sources.append(publication.source)
            self._tasks.append(asyncio.ensure_future(self._watch(track)))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            self.audio_sources.append(publication.source)
            self._tasks.append(asyncio.ensure_future(self._listen(track)))

    async def _watch(self, track: Any) -> None:
        rtc = self.rtc
        stream = rtc.VideoStream(track)
        self._closing.append(stream)
        async for event in stream:
            frame = event.frame
            # Every 5th frame kept, its brightness at a quarter of its size: enough to see the
            # face move (converting only those keeps the caller light on a small machine).
            if self.frame_count % 5 == 0:
                if frame.type != rtc.VideoBufferType.I420:
                    frame = frame.convert(rtc.VideoBufferType.I420)
                luma = np.frombuffer(frame.data, dtype=np.uint8)[: frame.width * frame.height]
                pixels = luma.reshape(frame.height, frame.width)
                self.frames.append((time.monotonic(), pixels[::4, ::4].copy()))
            self.frame_count += 1
            self.frame_size = (frame.width, frame.height)

    async def _listen(self, track: Any) -> None:
        rtc = self.rtc
        stream = rtc.AudioStream.from_track(track=track, sample_rate=16_000)
        self._closing.append(stream)
        async for event in stream:
            pcm = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float32) / 32768.0
            self.audio.append((time.monotonic(), pcm))

    async def _microphone(self, source: Any) -> None:
        rtc = self.rtc
        started = time.monotonic()
        index = 0
        clip: Samples | None = None
        position = 0
        while True:
            due = started + index * MIC_FRAME / MIC_RATE
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            out = np.zeros(MIC_FRAME, dtype=np.float32)
            if clip is None and self._clips:
                clip, position = self._clips[0][0], 0
            if clip is not None:
                part = clip[position : position + MIC_FRAME]
                out[: len(part)] = part
                position += MIC_FRAME
                if position >= len(clip):
                    _, future = self._clips.pop(0)
                    if not future.done():
                        future.set_result(time.monotonic())
                    clip = None
            pcm = (np.clip(out, -1, 1) * 32767).astype(np.int16)
            await source.capture_frame(rtc.AudioFrame(pcm.tobytes(), MIC_RATE, 1, MIC_FRAME))
            index += 1

    # ----- waiting -----------------------------------------------------------------------------

    async def wait_for(
        self, match: Callable[[dict[str, Any]], bool], timeout_s: float, since: int = 0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            for _, message in self.messages[since:]:
                if match(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no such message in {timeout_s} s: {self.messages[-10:]}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    async def wait_for_state(self, state: str, timeout_s: float, since: int = 0) -> None:
        await self.wait_for(
            lambda m: m.get("type") == "opencharacters.state" and m.get("state") == state,
            timeout_s,
            since,
        )

    def transcript(self, role: str) -> dict[int, str]:
        """Runway's flat transcription deltas, joined per turn."""
        turns: dict[int, str] = {}
        for _, message in self.messages:
            if message.get("type") == "transcription" and message.get("role") == role:
                turn = int(message.get("turn", 0))
                turns[turn] = turns.get(turn, "") + str(message.get("text", ""))
        return turns

    def audio_after(self, since: float) -> Samples:
        parts = [pcm for at, pcm in self.audio if at >= since]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
