"""Live calls measured through the real path: server process, WHIP, aiortc, models, media.

A caller (aiortc, on the same host so both ends share CLOCK_MONOTONIC) talks to an avatar with
natural speech (Piper, a different voice from the avatar's). Reported:

* turn latency: end of the caller's speech → first avatar audio leaving the server and first frame
  with the mouth moving, split into end-of-turn wait, first clause of text, first audio;
* barge-in: caller speech onset → avatar silence (server cut), and as the caller hears it;
* session create → READY, connect → first frame;
* video fps during speech, one-way frame delay, audio delay and the A/V offset between them;
* server CPU per session, and 1..N concurrent calls (fps, latency).

    .venv/bin/python bench/live_bench.py            # starts its own server
    .venv/bin/python bench/live_bench.py --concurrent 3 --turns 6
    .venv/bin/python bench/live_bench.py --transport livekit   # calls in LiveKit rooms
    .venv/bin/python bench/live_bench.py --variant 'whip=src' \
        --variant 'livekit=src;OPENCHARACTERS_TRANSPORT=livekit' --rounds 2   # interleaved
    .venv/bin/python bench/live_bench.py --caller-niceness 10   # the caller yields the cores

The caller shares this box's two cores with the server (~0.4 core: it decodes the avatar's
video). `--caller-niceness 10` lowers its threads' priority so the server's work goes first, as
with a caller on another machine; what the caller itself times (audio heard, video delays) then
includes its own waits for a core.

With the LiveKit transport the bench starts its own livekit-server (.tools/bin, `make setup`)
and calls as Runway's SDK does (bench/livekit_caller.py); its CPU counts with the server's.
LiveKit's SDK gives no RTP timestamps, so the one-way delays are WHIP-only; the lip-sync offset
at the caller (mouth opening against loudness, cross-correlated) is measured for both.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np

from common import load_average, write_results
from livekit_caller import LiveKitBenchCaller, lip_sync_offset_s
from opencharacters.client.call import Caller
from opencharacters.engine_settings import EngineSettings
from opencharacters.media.audio import Samples
from opencharacters.speech.engines import load_synthesizer

ROOT = Path(__file__).resolve().parent.parent
FACE = ROOT / "tests" / "assets" / "astronaut.jpg"
API_KEY = "oc_bench_live_key_0123456789abcdef"
HEADERS = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}
T = TypeVar("T")
VIDEO_RTP_RATE = 90_000
PERSONA = (
    "You are Mia, the friendly receptionist of Sunrise Dental Clinic on Harbor Street. "
    "The clinic is open Monday to Friday, 9am to 5pm. A check-up costs 60 dollars."
)
QUESTIONS = (
    "Hi, I would like to book a check-up.",
    "How much does a check-up cost?",
    "Are you open on Saturdays?",
    "Where is the clinic?",
    "Can I bring my daughter too?",
    "What should I bring to the appointment?",
    "Great, thank you very much.",
    "Do you take new patients?",
)
INTERRUPTION = "Sorry, wait a moment."


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return float(np.percentile(np.array(values), q))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def running_server(extra_env: dict[str, str], source: Path | None = None) -> Any:
    """A server process, from `source` (another checkout's src/, for before/after runs)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        env = {
            **os.environ,
            "OPENCHARACTERS_DATA_DIR": data,
            "OPENCHARACTERS_PORT": str(port),
            "OPENCHARACTERS_BOOTSTRAP_API_KEY": API_KEY,
            "OPENCHARACTERS_SESSION_CAPACITY": "8",
            **extra_env,
        }
        if source is not None:
            env["PYTHONPATH"] = str(source)
        log = open(Path(data) / "server.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "opencharacters", "serve", "--log-level", "warning"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                time.sleep(0.2)
            yield base, process.pid
        except BaseException:
            log.flush()
            print((Path(data) / "server.log").read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            process.terminate()
            process.wait(timeout=30)


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """The server and every process under it (media workers are its children)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry)] = int(_stat(int(entry))[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pid: int) -> float:
    """CPU time of the server's process tree, children that exited included (cutime, cstime)."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            fields = _stat(member)
            total += sum(int(f) for f in fields[11:15])
    return total / os.sysconf("SC_CLK_TCK")


def create_avatar(base: str, **fields: Any) -> str:
    import base64

    image = "data:image/jpeg;base64," + base64.b64encode(FACE.read_bytes()).decode()
    body = {
        "name": "Mia",
        "referenceImage": image,
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "personality": PERSONA,
        "startScript": "Hello, Sunrise Dental, this is Mia.",
        **fields,
    }
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as api:
        avatar_id = str(api.post("/v1/avatars", json=body).json()["id"])
        while api.get(f"/v1/avatars/{avatar_id}").json()["status"] == "PROCESSING":
            time.sleep(0.2)
    return avatar_id


class BackgroundVideos:
    """Avatar videos rendered by the API one after another while the conversation call runs:
    each is a new task as soon as the one before has finished."""

    TEXT = (
        "Welcome to Sunrise Dental. We are open Monday to Friday, from nine in the morning to "
        "five in the afternoon, and a check-up costs sixty dollars. See you soon!"
    )

    def __init__(self, base: str, avatar_id: str) -> None:
        self._base = base
        self._avatar_id = avatar_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.seconds: list[float] = []
        self.failed = 0

    def __enter__(self) -> BackgroundVideos:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def summary(self) -> dict[str, Any]:
        return {
            "finished": len(self.seconds),
            "failed": self.failed,
            "secondsEach": [round(s, 1) for s in self.seconds],
        }

    def _run(self) -> None:
        body = {
            "model": "gwm1_avatars",
            "avatar": {"type": "custom", "avatarId": self._avatar_id},
            "speech": {"type": "text", "text": self.TEXT},
        }
        with httpx.Client(base_url=self._base, headers=HEADERS, timeout=60) as api:
            while not self._stop.is_set():
                started = time.monotonic()
                task_id = api.post("/v1/avatar_videos", json=body).json()["id"]
                status = "PENDING"
                while status not in ("SUCCEEDED", "FAILED") and not self._stop.wait(0.2):
                    status = api.get(f"/v1/tasks/{task_id}").json()["status"]
                if status == "SUCCEEDED":
                    self.seconds.append(time.monotonic() - started)
                elif status == "FAILED":
                    self.failed += 1


def measure_ready(base: str, avatar_id: str, count: int) -> list[float]:
    times: list[float] = []
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as api:
        for _ in range(count):
            started = time.monotonic()
            session_id = api.post(
                "/v1/realtime_sessions",
                json={"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}},
            ).json()["id"]
            while api.get(f"/v1/realtime_sessions/{session_id}").json()["status"] != "READY":
                time.sleep(0.005)
            times.append(time.monotonic() - started)
            api.delete(f"/v1/realtime_sessions/{session_id}")
    return times


class Clocks:
    """Maps the received media's RTP timestamps back to the server's session clock."""

    def __init__(self, call: Caller) -> None:
        events = [m for _, m in call.received.messages if m.get("type") == "opencharacters.clock"]
        self.origin = next(m["monotonicOrigin"] for m in events if "monotonicOrigin" in m)
        self.first_frame_s = next((m["firstFrameS"] for m in events if "firstFrameS" in m), None)
        self.first_audio_s = next((m["firstAudioS"] for m in events if "firstAudioS" in m), None)
        self.received = call.received

    def video_delays(self, since_s: float = 0.0) -> list[tuple[float, float]]:
        """(session time of the frame, one-way delay) for every received frame."""
        pts = self.received.video_pts
        if not pts or self.first_frame_s is None:
            return []
        out = []
        for arrival, p in zip(self.received.video_times, pts, strict=False):
            at = self.first_frame_s + (p - pts[0]) / VIDEO_RTP_RATE
            if at >= since_s:
                out.append((at, arrival - (self.origin + at)))
        return out

    def audio_delays(self) -> list[tuple[float, float]]:
        pts = self.received.audio_pts
        if not pts or self.first_audio_s is None:
            return []
        return [
            (
                self.first_audio_s + (p - pts[0]) / 48_000,
                arrival - (self.origin + self.first_audio_s + (p - pts[0]) / 48_000),
            )
            for (arrival, _), p in zip(self.received.audio, pts, strict=False)
        ]


def sender_frame_gaps(pts: list[int], fps: int = 25) -> dict[str, float]:
    """Frames the server skipped, read from the RTP timestamps of the frames received (the
    server stamps frame n at n / fps, so a gap of k periods means k - 1 frames were never sent):
    the count, the holds longer than 50 ms (a frame left on screen past its time) and the
    longest hold. Network loss would show too; on loopback there is none."""
    period = VIDEO_RTP_RATE / fps
    gaps = [b - a for a, b in itertools.pairwise(pts) if b > a]
    skipped = sum(max(0, round(g / period) - 1) for g in gaps)
    holds = [g / VIDEO_RTP_RATE for g in gaps if g / VIDEO_RTP_RATE > 0.05]
    return {
        "skipped": skipped,
        "holdsOver50ms": len(holds),
        "longestHoldS": max((g / VIDEO_RTP_RATE for g in gaps), default=0.0),
    }


class PictureCaller(Caller):
    """The WHIP caller keeping a small grey picture of each frame (for the lip-sync offset)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pictures: list[tuple[float, Any]] = []

    async def _read_video(self, track: Any) -> None:
        from aiortc.mediastreams import MediaStreamError

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
            grey = frame.to_ndarray(format="gray")
            self.pictures.append((now, grey[::8, ::8].copy()))


async def conversation_run(
    base: str,
    avatar_id: str,
    lines: list[tuple[Samples, int]],
    interruption: tuple[Samples, int] | None = None,
    livekit: bool = False,
) -> dict[str, Any]:
    """One call: greeting, then each line as a turn (interrupting the answer if asked)."""
    options = {"maxDuration": 600}
    caller: Any = (
        LiveKitBenchCaller(base, API_KEY, avatar_id, session_options=options)
        if livekit
        else PictureCaller(base, API_KEY, avatar_id, session_options=options)
    )
    async with caller as call:
        assert call.connected_at is not None
        first_frame = (call.first_frame_at or time.monotonic()) - call.connected_at
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        heard_after: list[float] = []
        onsets: list[float] = []
        for samples, rate in lines:
            said = call.say(samples, rate)
            end_wall = await said
            await call.wait_for_state("speaking", 60)
            if interruption is not None:
                await asyncio.sleep(1.0)
                onsets.append(time.monotonic())
                call.say(*interruption)
                await call.wait_for(lambda m: m.get("type") == "opencharacters.interrupted", 20)
                await call.wait_for_state("speaking", 60)
            await call.wait_until_listening(90)
            # The caller hears the first avatar audio of the answer.
            loud = [
                at
                for at, s in call.received.audio
                if at > end_wall and float(np.abs(s).max()) > 0.02
            ]
            if loud and interruption is None:
                heard_after.append(loud[0] - end_wall)
        await asyncio.sleep(0.5)
    messages = [m for _, m in call.received.messages]
    pictures = call.room.pictures if livekit else call.pictures
    lip_sync = lip_sync_offset_s(call.received.audio, pictures, call.connected_at)
    video: list[tuple[float, float]] = []
    audio: list[tuple[float, float]] = []
    if not livekit:  # LiveKit's SDK hands over no RTP timestamps: no one-way delays there
        clocks = Clocks(call)
        speaking_since = min(
            (
                m["firstAudioS"]
                for m in messages
                if m.get("type") == "opencharacters.clock" and "firstAudioS" in m
            ),
            default=0.0,
        )
        video = clocks.video_delays(speaking_since)
        audio = clocks.audio_delays()
    return {
        "turns": [m for m in messages if m.get("type") == "opencharacters.turn"],
        "transcription": [
            {"role": m.get("role"), "turn": m.get("turn"), "text": m.get("text")}
            for m in messages
            if m.get("type") == "transcription"
        ],
        "interruptions": [m for m in messages if m.get("type") == "opencharacters.interrupted"],
        "firstFrameAfterConnectS": first_frame,
        "fps": call.received.fps(),
        "frameGaps": None if livekit else sender_frame_gaps(call.received.video_pts),
        "videoDelays": [d for _, d in video],
        "audioDelays": [d for _, d in audio],
        "heardAfter": heard_after,
        "lipSyncOffsetS": lip_sync,
        "onsets": onsets,
        "received": call.received,
    }


def as_caller(niceness: int, call: Coroutine[Any, Any, T]) -> T:
    """Runs a call's coroutine in a thread of its own, its priority lowered by `niceness`
    (`--caller-niceness`; the threads aiortc starts for it inherit that): a caller on this box
    then yields the two cores to the server, as one on another machine would. The servers are
    started from the main thread and keep their own priority."""
    found: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        if niceness:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
        try:
            found.append(asyncio.run(call))
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=run, name="caller")
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return found[0]


def caller_voice(lines: list[str], voice: str = "vincent") -> list[tuple[Samples, int]]:
    synthesizer = load_synthesizer(EngineSettings())
    return [(synthesizer.synthesize_text(text, voice), synthesizer.sample_rate) for text in lines]


def barge_in_client_latency(result: dict[str, Any]) -> list[float]:
    """Caller speech onset → the last loud avatar audio the caller received."""
    out = []
    audio = result["received"].audio
    for onset in result["onsets"]:
        after = [at for at, s in audio if onset <= at <= onset + 2.0 and np.abs(s).max() > 0.02]
        # The interruption's own reply starts later; take the end of the first loud run.
        run_end = onset
        for at in after:
            if at - run_end > 0.1 and run_end > onset:
                break
            run_end = at
        out.append(run_end - onset)
    return out


async def concurrent_calls(
    base: str, avatar_id: str, count: int, line: tuple[Samples, int], livekit: bool
) -> list[dict[str, Any]]:
    async def one() -> dict[str, Any]:
        return await conversation_run(base, avatar_id, [line], livekit=livekit)

    return list(await asyncio.gather(*(one() for _ in range(count))))


def parse_variant(text: str) -> tuple[str, Path, dict[str, str]]:
    """LABEL=SRC[;NAME=VALUE,...]: a server from the checkout at SRC with extra environment."""
    label, rest = text.split("=", 1)
    source, _, env_text = rest.partition(";")
    env = dict(pair.split("=", 1) for pair in env_text.split(",") if pair)
    return label, Path(source).resolve(), env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--barge-ins", type=int, default=5)
    parser.add_argument("--concurrent", type=int, default=2)
    parser.add_argument("--ready", type=int, default=10)
    parser.add_argument("--no-record", action="store_true", help="calls are not recorded")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        help="LABEL=SRC[;ENV=VALUE,...]: also measure a server from another checkout or with "
        "other settings, e.g. 'before=../old/src' or "
        "'two-workers=src;OPENCHARACTERS_MEDIA_WORKERS=2,OPENCHARACTERS_SESSION_CAPACITY=1'",
    )
    parser.add_argument("--rounds", type=int, default=1, help="variants run interleaved")
    parser.add_argument(
        "--caller-niceness",
        type=int,
        nargs="+",
        default=[0],
        help="run the bench's callers this much below the server's priority (10: they stand "
        "in for callers on other machines; the figures measured at the caller then lag); "
        "several values: each variant runs with each, interleaved",
    )
    parser.add_argument(
        "--background-videos",
        action="store_true",
        help="while the conversation call runs, the API renders avatar videos one after "
        "another (a developer using the portal on the box that runs the call)",
    )
    parser.add_argument(
        "--transport",
        choices=("whip", "livekit"),
        default="whip",
        help="how the calls reach the avatar (a variant's OPENCHARACTERS_TRANSPORT wins)",
    )
    args = parser.parse_args()
    default_env = {"OPENCHARACTERS_TRANSPORT": args.transport}
    variants = [parse_variant(v) for v in args.variant] or [
        (args.transport, ROOT / "src", default_env)
    ]
    lines = caller_voice([*QUESTIONS[: args.turns], INTERRUPTION])
    several = len(args.caller_niceness) > 1
    matrix = [
        (f"{label} caller+{niceness}" if several else label, source, env, niceness)
        for label, source, env in variants
        for niceness in args.caller_niceness
    ]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _, _ in matrix}
    for round_index in range(args.rounds):
        for label, source, env, niceness in matrix:
            print(f"\n=== {label} (round {round_index + 1}/{args.rounds}) ===", flush=True)
            runs[label].append(run_variant(args, lines, source, env, niceness))
    if len(matrix) > 1 or args.rounds > 1:
        print_comparison(runs)
    write_results("live", {"loadAverage": load_average(), "variants": runs})


def print_comparison(runs: dict[str, list[dict[str, Any]]]) -> None:
    """Medians over the rounds, one column per variant."""

    def stage(name: str, q: str) -> Any:
        return lambda r: r["turnLatency"][name][q]

    rows: list[tuple[str, Any]] = [
        ("end-of-turn wait p50 s", stage("end-of-turn wait", "p50")),
        ("thinking started p50 s", stage("thinking started", "p50")),
        ("first token of text p50 s", stage("first token of text", "p50")),
        ("first clause of text p50 s", stage("first clause of text", "p50")),
        ("first audio scheduled p50 s", stage("first audio scheduled", "p50")),
        (
            "first audio leaves server p50 s",
            lambda r: r["turnLatency"]["first audio leaves server"]["p50"],
        ),
        ("first audio leaves server p95 s", stage("first audio leaves server", "p95")),
        (
            "first audio heard p50 s",
            lambda r: r["turnLatency"]["first audio heard by caller"]["p50"],
        ),
        ("first mouth frame p50 s", lambda r: r["turnLatency"]["first frame, mouth moving"]["p50"]),
        ("barge-in server cut p50 s", lambda r: pct(r["bargeIn"]["serverCut"], 50)),
        ("barge-in heard cut p50 s", lambda r: pct(r["bargeIn"]["callerHeardCut"], 50)),
        ("video fps", lambda r: r["fps"]),
        ("frames skipped by the server", lambda r: r["frameGaps"]["skipped"]),
        ("frame holds > 50 ms", lambda r: r["frameGaps"]["holdsOver50ms"]),
        ("longest frame hold s", lambda r: r["frameGaps"]["longestHoldS"]),
        ("video delay p50 ms", lambda r: r["videoDelayMs"]["p50"]),
        ("A/V offset ms", lambda r: r["avOffsetMs"]),
        ("lip-sync offset at caller ms", lambda r: r["lipSyncOffsetMs"]),
        ("CPU one call (cores)", lambda r: r["serverCpuCoresOneCall"]),
        ("create → READY p50 s", lambda r: pct(r["readyS"], 50)),
    ]
    concurrent = max(
        (int(n) for v in runs.values() for r in v for n in r["concurrency"]), default=1
    )
    if concurrent > 1:
        rows += [
            (f"{concurrent} calls: min fps", lambda r: min(r["concurrency"][concurrent]["fps"])),
            (
                f"{concurrent} calls: first audio max s",
                lambda r: max(r["concurrency"][concurrent]["firstAudioS"], default=float("nan")),
            ),
            (
                f"{concurrent} calls: CPU (cores)",
                lambda r: r["concurrency"][concurrent]["serverCpuCores"],
            ),
        ]
    labels = list(runs)
    print("\nComparison (median over rounds)")
    print(f"{'':36}" + "".join(f"{label:>16}" for label in labels))
    for name, read in rows:
        cells = []
        for label in labels:
            values = []
            for result in runs[label]:
                with contextlib.suppress(KeyError, ValueError, TypeError, StopIteration):
                    values.append(float(read(result)))
            cells.append(f"{statistics.median(values):16.3f}" if values else f"{'-':>16}")
        print(f"{name:36}" + "".join(cells))


def run_variant(
    args: argparse.Namespace,
    lines: list[tuple[Samples, int]],
    source: Path,
    env: dict[str, str],
    niceness: int = 0,
) -> dict[str, Any]:
    questions, interruption = lines[:-1], lines[-1]
    results: dict[str, Any] = {
        "loadAverage": load_average(),
        "source": str(source),
        "env": env,
        "callerNiceness": niceness,
    }
    livekit = env.get("OPENCHARACTERS_TRANSPORT") == "livekit"
    with contextlib.ExitStack() as stack:
        pids: list[int] = []
        if livekit:
            from tests.support.livekit import LiveKitServer

            logs = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            media = LiveKitServer(logs).start()
            stack.callback(media.stop)
            assert media.process is not None
            pids.append(media.process.pid)
            env = {**media.server_env(), **env}
        base, pid = stack.enter_context(
            running_server(
                {"OPENCHARACTERS_RECORD_SESSIONS": "false" if args.no_record else "true", **env},
                source,
            )
        )
        pids.append(pid)

        def cpu() -> float:
            return sum(cpu_seconds(p) for p in pids)

        avatar_id = create_avatar(base)
        ready = measure_ready(base, avatar_id, args.ready)

        videos = (
            stack.enter_context(BackgroundVideos(base, avatar_id))
            if args.background_videos
            else None
        )
        cpu_before, wall_before = cpu(), time.monotonic()
        talk = as_caller(niceness, conversation_run(base, avatar_id, questions, livekit=livekit))
        cpu_share = (cpu() - cpu_before) / (time.monotonic() - wall_before)
        if videos is not None:
            videos.stop()
            results["backgroundVideos"] = videos.summary()
            print(f"background avatar videos during the call: {videos.summary()}")

        barge = as_caller(
            niceness,
            conversation_run(
                base, avatar_id, questions[: args.barge_ins], interruption, livekit=livekit
            ),
        )
        concurrency = {}
        for n in range(1, args.concurrent + 1):
            cpu_before, wall_before = cpu(), time.monotonic()
            runs = as_caller(niceness, concurrent_calls(base, avatar_id, n, questions[1], livekit))
            share = (cpu() - cpu_before) / (time.monotonic() - wall_before)
            concurrency[n] = {
                "fps": [round(r["fps"], 2) for r in runs],
                "firstAudioS": [t["firstAudioS"] for r in runs for t in r["turns"]],
                "serverCpuCores": round(share, 2),
            }

    turns = talk["turns"]
    stages = {
        "end-of-turn wait": [t["endOfTurnWaitS"] for t in turns],
        "ASR wait after turn end": [t["asrWaitS"] for t in turns],
        # Recorded by newer servers only (a `before` checkout may not send them).
        "thinking started": [t["thinkingS"] for t in turns if t.get("thinkingS") is not None],
        "first token of text": [
            t["firstTokenS"] for t in turns if t.get("firstTokenS") is not None
        ],
        "first clause of text": [t["firstClauseS"] for t in turns],
        "first audio scheduled": [t["firstAudioScheduledS"] for t in turns],
        "first audio leaves server": [t["firstAudioS"] for t in turns],
        "first frame, mouth moving": [
            t["firstMouthFrameS"] for t in turns if t["firstMouthFrameS"]
        ],
        "first audio heard by caller": talk["heardAfter"],
    }
    print(f"\nTurn latency, from the end of the caller's speech ({len(turns)} turns), seconds")
    print(f"{'stage (cumulative)':32} {'p50':>7} {'p95':>7} {'max':>7}")
    for name, values in stages.items():
        top = max(values, default=float("nan"))
        print(f"{name:32} {pct(values, 50):7.3f} {pct(values, 95):7.3f} {top:7.3f}")
    # Newer servers only: silence inside sentences when a piece was synthesized late.
    gaps = [t["speechGapS"] for t in turns if t.get("speechGapS") is not None]
    if gaps:
        late = sum(1 for g in gaps if g > 0)
        print(
            f"{'gaps inside sentences (s)':32} {pct(gaps, 50):7.3f} {pct(gaps, 95):7.3f} "
            f"{max(gaps):7.3f}  ({late} of {len(gaps)} turns)"
        )
    cut = [i["silencedS"] - i["speechStartS"] for i in barge["interruptions"]]
    detect = [i["detectedS"] - i["speechStartS"] for i in barge["interruptions"]]
    heard_cut = barge_in_client_latency(barge)
    print(f"\nBarge-in ({len(cut)} interruptions), seconds from caller speech onset")
    print(f"{'detected (VAD)':32} {pct(detect, 50):7.3f} {pct(detect, 95):7.3f}")
    print(f"{'avatar audio cut at the server':32} {pct(cut, 50):7.3f} {pct(cut, 95):7.3f}")
    print(
        f"{'last loud audio at the caller':32} {pct(heard_cut, 50):7.3f} {pct(heard_cut, 95):7.3f}"
    )
    video, audio = talk["videoDelays"], talk["audioDelays"]
    offset = pct(video, 50) - pct(audio, 50)
    print("\nMedia (during the conversation call)")
    print(f"  session create → READY      p50 {pct(ready, 50):.3f} s  p95 {pct(ready, 95):.3f} s")
    print(f"  connect → first frame       {talk['firstFrameAfterConnectS']:.3f} s")
    print(f"  video fps                   {talk['fps']:.2f}")
    if talk["frameGaps"] is not None:
        gap = talk["frameGaps"]
        print(
            f"  frames skipped by server    {gap['skipped']}  (holds > 50 ms: "
            f"{gap['holdsOver50ms']}, longest {gap['longestHoldS']:.3f} s)"
        )
    for label, delays in (("video", video), ("audio", audio)):
        p50, p95 = pct(delays, 50) * 1000, pct(delays, 95) * 1000
        print(f"  {label} one-way delay         p50 {p50:.0f} ms  p95 {p95:.0f} ms")
    print(f"  A/V offset (video - audio)  {offset * 1000:+.0f} ms")
    print(f"  lip-sync offset at caller   {talk['lipSyncOffsetS'] * 1000:+.0f} ms")
    print(f"  server CPU, one call        {cpu_share:.2f} cores")
    print("\nConcurrent calls (greeting + one question each)")
    for n, row in concurrency.items():
        first = [round(v, 2) for v in row["firstAudioS"]]
        print(f"  {n}: fps {row['fps']}  first audio {first}  CPU {row['serverCpuCores']} cores")

    results.update(
        {
            "turnLatency": {
                k: {"p50": pct(v, 50), "p95": pct(v, 95), "values": v} for k, v in stages.items()
            },
            "turns": turns,
            "transcription": talk["transcription"],
            "speechGapS": gaps,
            "bargeIn": {"detect": detect, "serverCut": cut, "callerHeardCut": heard_cut},
            "readyS": ready,
            "firstFrameAfterConnectS": talk["firstFrameAfterConnectS"],
            "fps": talk["fps"],
            "frameGaps": talk["frameGaps"],
            "videoDelayMs": {"p50": pct(video, 50) * 1000, "p95": pct(video, 95) * 1000},
            "audioDelayMs": {"p50": pct(audio, 50) * 1000, "p95": pct(audio, 95) * 1000},
            "avOffsetMs": offset * 1000,
            "lipSyncOffsetMs": talk["lipSyncOffsetS"] * 1000,
            "serverCpuCoresOneCall": cpu_share,
            "concurrency": concurrency,
            "median": statistics.median([t["firstAudioS"] for t in turns]) if turns else None,
        }
    )
    return results


if __name__ == "__main__":
    main()
