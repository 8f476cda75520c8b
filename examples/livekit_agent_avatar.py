"""Give your own LiveKit voice agent an OpenCharacters face (docs/livekit.md, "Avatar for your
own LiveKit agent").

This script plays the agent: it joins a room on your LiveKit server, asks OpenCharacters for a
session with `integration: {type: "livekit", ...}` (the avatar joins the same room with a token
minted here), waits for the avatar's video, says a WAV file through LiveKit Agents' avatar
protocol (the audio as a byte stream on topic `lk.audio_stream`), waits until the avatar has
said it (`lk.playback_finished`) and ends the session with END_CALL. A real agent built with
`livekit-agents` does the same through its avatar plugins; `livekit-plugins-runway`'s
`AvatarSession(api_url=<this server>, avatar_id=...)` talks to OpenCharacters unchanged.

    python examples/livekit_agent_avatar.py \\
        --server http://127.0.0.1:8000 --api-key "$OPENCHARACTERS_API_KEY" \\
        --avatar <avatar id> --livekit-url ws://127.0.0.1:7880 \\
        --livekit-key devkey --livekit-secret secret --wav hello.wav

Needs the `livekit`, `livekit-api`, `httpx` and `numpy` packages (all in OpenCharacters'
environment). Exit status 0 once the avatar has said the file and the session COMPLETED."""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import time
import wave
from typing import Any

import httpx
import numpy as np
from livekit import api, rtc

AGENT_RATE = 16_000  # what LiveKit Agents' avatar plugins stream
CHUNK = 320  # 20 ms


def read_wav_16k(path: str) -> bytes:
    """A 16-bit PCM WAV as mono 16 kHz PCM (linear interpolation when its rate differs)."""
    with wave.open(path, "rb") as wav:
        if wav.getsampwidth() != 2:
            raise SystemExit(f"{path}: only 16-bit PCM WAV files are supported")
        rate, channels = wav.getframerate(), wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    mono = pcm.reshape(-1, channels).mean(axis=1)
    if rate != AGENT_RATE:
        times = np.arange(0, len(mono) / rate, 1 / AGENT_RATE)
        mono = np.interp(times, np.arange(len(mono)) / rate, mono)
    return bytes(mono.astype(np.int16).tobytes())


def token(key: str, secret: str, room: str, identity: str, **attributes: str) -> str:
    grant = api.VideoGrants(room_join=True, room=room)
    minted = api.AccessToken(key, secret).with_kind("agent").with_identity(identity)
    if attributes:
        minted = minted.with_attributes(attributes)
    return minted.with_grants(grant).to_jwt()


async def run(args: argparse.Namespace) -> int:
    room_name = args.room or f"agent-room-{secrets.token_hex(4)}"
    agent_identity, avatar_identity = "my-agent", "opencharacters-avatar"
    speech = read_wav_16k(args.wav)
    room = rtc.Room()
    finished: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    video = asyncio.Event()
    room.on(
        "track_subscribed",
        lambda track, *_: video.set() if track.kind == rtc.TrackKind.KIND_VIDEO else None,
    )
    await room.connect(
        args.livekit_url, token(args.livekit_key, args.livekit_secret, room_name, agent_identity)
    )

    def playback_finished(data: rtc.RpcInvocationData) -> str:
        finished.put_nowait(json.loads(data.payload))
        return "ok"

    room.local_participant.register_rpc_method("lk.playback_finished", playback_finished)
    room.local_participant.register_rpc_method("lk.playback_started", lambda _data: "ok")

    headers = {"Authorization": f"Bearer {args.api_key}", "X-Runway-Version": "2024-11-06"}
    async with httpx.AsyncClient(base_url=args.server, headers=headers, timeout=30) as http:
        avatar_token = token(
            args.livekit_key,
            args.livekit_secret,
            room_name,
            avatar_identity,
            **{"lk.publish_on_behalf": agent_identity},
        )
        created = await http.post(
            "/v1/realtime_sessions",
            json={
                "model": "gwm1_avatars",
                "avatar": {"type": "custom", "avatarId": args.avatar},
                "integration": {
                    "type": "livekit",
                    "url": args.livekit_url,
                    "token": avatar_token,
                    "roomName": room_name,
                    "agentIdentity": agent_identity,
                },
            },
        )
        if created.status_code != 200:
            print(f"creating the session failed: {created.text}", file=sys.stderr)
            return 1
        session_id = created.json()["id"]
        print(f"session {session_id}: the avatar joins room {room_name}")
        await asyncio.wait_for(video.wait(), 60)  # the face is in the room
        print("the avatar's video is in the room; speaking")

        writer = await room.local_participant.stream_bytes(
            name=f"AUDIO_{secrets.token_hex(4)}",
            topic="lk.audio_stream",
            destination_identities=[avatar_identity],
            attributes={"sample_rate": str(AGENT_RATE), "num_channels": "1"},
        )
        for start in range(0, len(speech), 2 * CHUNK):
            await writer.write(speech[start : start + 2 * CHUNK])
        await writer.aclose()  # the end of the utterance
        report = await asyncio.wait_for(finished.get(), 120)
        print(f"the avatar said it: {report}")

        # What Runway's LiveKit plugin does when the agent's session closes.
        await room.local_participant.publish_data(
            json.dumps({"type": "END_CALL"}),
            reliable=True,
            destination_identities=[avatar_identity],
        )
        deadline = time.monotonic() + 30
        status = ""
        while time.monotonic() < deadline:
            status = (await http.get(f"/v1/realtime_sessions/{session_id}")).json()["status"]
            if status in ("COMPLETED", "FAILED", "CANCELLED"):
                break
            await asyncio.sleep(0.2)
        print(f"session {session_id}: {status}")
    # Leave while the event loop still runs: an RPC or room event the SDK's native side hands
    # over after `asyncio.run` closed the loop aborts the process (seen once in CI, exit -6).
    for method in ("lk.playback_finished", "lk.playback_started"):
        room.local_participant.unregister_rpc_method(method)
    await room.disconnect()
    await asyncio.sleep(0.2)  # the events of leaving arrive while the loop runs
    return 0 if status == "COMPLETED" else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="http://127.0.0.1:8000")
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--avatar", required=True, help="a READY custom avatar's id")
    parser.add_argument("--livekit-url", required=True)
    parser.add_argument("--livekit-key", required=True)
    parser.add_argument("--livekit-secret", required=True)
    parser.add_argument("--wav", required=True, help="what the agent says (16-bit PCM WAV)")
    parser.add_argument("--room", help="the room's name (default: a new one)")
    sys.exit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
