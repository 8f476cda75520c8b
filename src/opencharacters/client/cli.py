"""`opencharacters call`: a live call from the command line, for smoke tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from opencharacters.client.call import Caller, CallError


class QueueReport:
    """Says where a waiting session stands, each time that changes (on stderr)."""

    def __init__(self) -> None:
        self._said: object = None

    def update(self, session: dict[str, Any]) -> None:
        ahead = session.get("sessionsAhead")
        place = (session.get("queued"), ahead)
        if place == self._said or not session.get("queued"):
            return
        self._said = place
        if ahead is None:
            click.echo(f"session {session['id']}: queued for a call slot", err=True)
        else:
            plural = "" if ahead == 1 else "s"
            click.echo(
                f"session {session['id']}: queued behind {ahead} session{plural} "
                "(the server's call slots are busy)",
                err=True,
            )


def _print_line(role: str, text: str) -> None:
    click.echo(f"{'caller' if role == 'user' else 'avatar'}: {text}")


async def _run_call(
    base_url: str,
    api_key: str,
    avatar_id: str,
    clips: list[Path],
    save: Path | None,
    options: dict[str, Any],
    as_json: bool,
    ready_timeout_s: float = 30.0,
) -> dict[str, Any]:
    from opencharacters.media.audio import read_audio

    sounds = [read_audio(path) for path in clips]
    started = time.monotonic()
    # SIGTERM ends the call like Ctrl-C does: the session this command created is cancelled
    # (or hung up) on the way out instead of holding a call slot.
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)
    async with Caller(
        base_url,
        api_key,
        avatar_id,
        session_options=options,
        keep_frames=save is not None,
        ready_timeout_s=ready_timeout_s,
        on_waiting=QueueReport().update,
    ) as call:
        failure = await _converse(call, sounds, as_json)
    session = await call.last_known_session() or {}
    received = call.received
    transcript = [
        {"role": role, "turn": turn, "text": text}
        for role in ("assistant", "user")
        for turn, text in received.transcript(role).items()
    ]
    transcript.sort(key=lambda entry: int(entry["turn"]))
    result: dict[str, Any] = {
        "sessionId": call.session_id,
        "status": session.get("status"),
        "duration": session.get("duration"),
        "transcript": transcript,
        "turns": [m for _, m in received.messages if m.get("type") == "opencharacters.turn"],
        "videoFps": round(received.fps(), 2),
        "videoSize": received.video_size,
        "seconds": round(time.monotonic() - started, 2),
    }
    if failure is not None:
        result["error"] = failure
    # A call lost before any video has nothing to save; its error already says why.
    if save is not None and (failure is None or received.video_frames):
        await _save(call, save)
        result["saved"] = str(save)
    return result


async def _converse(call: Caller, sounds: list[Any], as_json: bool) -> str | None:
    """The greeting, then each clip and the avatar's answer to it. Returns why the call ended
    early (the server gone, an answer that never came), for the result: what was received up
    to then is still reported and saved."""
    try:
        if not as_json:
            click.echo(f"session {call.session_id}: connected", err=True)
        # Let the greeting finish: the avatar says what it does first (thinking when it has a
        # start script, listening when not); speaking over it would interrupt it.
        if call.state() is None:
            await call.wait_for(
                lambda m: m.get("type") == "opencharacters.state", 60, what="the avatar's state"
            )
        if call.state() in ("thinking", "speaking"):
            await call.wait_until_listening(60)
        for sound in sounds:
            await call.say_and_wait_for_answer(sound.samples, sound.sample_rate)
        await asyncio.sleep(0.3)
    except CallError as exc:
        return str(exc)
    return None


async def _save(call: Caller, path: Path) -> None:
    """What the caller received, on the arrival clock of the first frame."""
    from opencharacters.media.recording import CallRecorder

    received = call.received
    if not received.video_frames or received.video_size is None:
        raise click.ClickException("no video was received; nothing to save")
    origin = received.video_frames[0][0]
    width, height = received.video_size
    # Everything is already in memory: nothing may be dropped for being "behind".
    recorder = CallRecorder(path, width=width, height=height, pixel_format="bgr24", max_queue_s=1e9)
    recorder.start()
    # In time order, as during a call: the recorder encodes audio once newer media has arrived,
    # so audio pushed after all the video would count as late and be lost.
    media: list[tuple[float, int, Any]] = [
        (at - origin, 0, image) for at, image in received.video_frames
    ]
    end = 0.0
    for at, samples in received.audio:
        start = at - origin - len(samples) / 48_000
        if start >= 0:
            media.append((start, 1, samples))
            end = max(end, start + len(samples) / 48_000)
    media.sort(key=lambda item: (item[0], item[1]))
    for at, kind, payload in media:
        if kind == 0:
            recorder.add_video_frame(payload, at)
        else:
            recorder.add_avatar_audio(payload, 48_000, at)
    await recorder.finish(max(end, received.video_frames[-1][0] - origin + 0.04))


@click.command("call")
@click.argument("avatar_id")
@click.option(
    "--say",
    "clips",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Audio to speak to the avatar (any format PyAV reads); repeat for several turns.",
)
@click.option(
    "--save",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write what was received (the avatar's video and voice) to this MP4.",
)
@click.option("--base-url", help="Server URL (RUNWAYML_BASE_URL, default http://127.0.0.1:8000)")
@click.option("--api-key", help="API key (RUNWAYML_API_SECRET)")
@click.option("--personality", help="Override the avatar's personality for this call")
@click.option("--start-script", help="Override the avatar's opening line for this call")
@click.option("--max-duration", type=int, help="Seconds (10-1800, default 300)")
@click.option(
    "--ready-timeout",
    type=click.FloatRange(1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to wait for a call slot; the session is cancelled after that",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result instead of text")
def call(
    avatar_id: str,
    clips: tuple[Path, ...],
    save: Path | None,
    base_url: str | None,
    api_key: str | None,
    personality: str | None,
    start_script: str | None,
    max_duration: int | None,
    ready_timeout: float,
    as_json: bool,
) -> None:
    """Call an avatar: create a session, connect over WebRTC, speak, print what is said."""
    base = base_url or os.environ.get("RUNWAYML_BASE_URL") or "http://127.0.0.1:8000"
    key = api_key or os.environ.get("RUNWAYML_API_SECRET")
    if not key:
        raise click.UsageError("give --api-key or set RUNWAYML_API_SECRET")
    options: dict[str, Any] = {}
    if personality:
        options["personality"] = personality
    if start_script:
        options["startScript"] = start_script
    if max_duration is not None:
        options["maxDuration"] = max_duration
    try:
        result = asyncio.run(
            _run_call(base, key, avatar_id, list(clips), save, options, as_json, ready_timeout)
        )
    except CallError as exc:
        if as_json:  # scripts read stdout: the reason comes as JSON there too
            json.dump({"error": str(exc)}, sys.stdout, indent=2)
            sys.stdout.write("\n")
            sys.exit(1)
        raise click.ClickException(str(exc)) from None
    except (KeyboardInterrupt, asyncio.CancelledError) as exc:
        click.echo("interrupted: the call was ended and its session cancelled", err=True)
        sys.exit(130 if isinstance(exc, KeyboardInterrupt) else 143)
    if as_json:
        json.dump(result, sys.stdout, indent=2)
        sys.stdout.write("\n")
        if "error" in result:
            sys.exit(1)
        return
    for entry in result["transcript"]:
        _print_line(entry["role"], entry["text"].strip())
    for turn in result["turns"]:
        click.echo(
            f"turn {turn['turn']}: first audio {turn['firstAudioS']} s after the caller stopped "
            f"(end of turn {turn['endOfTurnWaitS']} s, first clause {turn['firstClauseS']} s)"
        )
    if "error" in result:
        if save is not None:
            click.echo(f"saved {save}")
        click.echo(f"session {result['sessionId']}: {result['error']}", err=True)
        sys.exit(1)
    click.echo(
        f"session {result['sessionId']}: {result['status']}, {result['duration']} s, "
        f"video {result['videoSize']} at {result['videoFps']} fps"
    )
    if save is not None:
        click.echo(f"saved {save}")
