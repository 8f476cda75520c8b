"""WHIP signalling and the data channel against bad input: clear errors, nothing leaks."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from opencharacters.client.call import Caller
from tests.engine.live.conftest import conversation, wait_status
from tests.support.http import api as api_client
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def ready_session(api: httpx.Client, avatar_id: str, **options: object) -> tuple[str, str]:
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    created = api.post("/v1/realtime_sessions", json={**body, **options})
    assert created.status_code == 200, created.text
    session_id = created.json()["id"]
    session = wait_status(api, session_id, {"READY"})
    return session_id, session["sessionKey"]


def consume(api: httpx.Client, session_id: str, key: str) -> dict[str, str]:
    response = httpx.post(
        f"{api.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200, response.text
    result: dict[str, str] = response.json()
    return result


async def offer_sdp(*, audio: bool = True, video: bool = True) -> tuple[RTCPeerConnection, str]:
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    if audio:
        peer.addTransceiver("audio", direction="sendrecv")
    if video:
        peer.addTransceiver("video", direction="recvonly")
    peer.createDataChannel("events")
    await peer.setLocalDescription(await peer.createOffer())
    assert peer.localDescription is not None
    return peer, peer.localDescription.sdp


def post_offer(
    url: str, token: str, sdp: str, content_type: str = "application/sdp"
) -> httpx.Response:
    return httpx.post(
        url,
        content=sdp.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
        timeout=30,
    )


async def http(method: str, url: str, **options: object) -> httpx.Response:
    return await asyncio.to_thread(httpx.request, method, url, timeout=30, **options)  # type: ignore[arg-type]


async def status_of(api: httpx.Client, session_id: str) -> str:
    response = await asyncio.to_thread(api.get, f"/v1/realtime_sessions/{session_id}")
    return str(response.json()["status"])


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error"}
    return str(body["error"])


async def test_offers_are_checked_before_anything_starts(
    live_server: Server, api: httpx.Client, avatar_id: str
) -> None:
    session_id, key = ready_session(api, avatar_id)
    creds = consume(api, session_id, key)
    url, token = creds["url"], creds["token"]
    assert url == f"{live_server.base_url}/v1/realtime_sessions/{session_id}/whip"
    assert creds["roomName"] == session_id
    peer, sdp = await offer_sdp()
    try:
        missing = await http("POST", url, content=sdp, headers={"Content-Type": "application/sdp"})
        assert missing.status_code == 401 and "token" in error_of(missing)
        wrong = await asyncio.to_thread(post_offer, url, "not-the-token", sdp)
        assert wrong.status_code == 401
        as_json = await asyncio.to_thread(post_offer, url, token, sdp, "application/json")
        assert as_json.status_code == 415 and "application/sdp" in error_of(as_json)
        huge = await asyncio.to_thread(post_offer, url, token, "v=0\r\n" + "a=x\r\n" * 20000)
        assert huge.status_code == 413 and "65536 bytes" in error_of(huge)
        garbage = await asyncio.to_thread(post_offer, url, token, "hello, I am not SDP")
        assert garbage.status_code == 400 and "SDP" in error_of(garbage)
        _, audio_only = await offer_sdp(video=False)
        no_video = await asyncio.to_thread(post_offer, url, token, audio_only)
        assert no_video.status_code == 400 and "video" in error_of(no_video)
        # None of that touched the session: it is still READY, and the right offer connects.
        assert await status_of(api, session_id) == "READY"
        answer = await asyncio.to_thread(post_offer, url, token, sdp)
        assert answer.status_code == 201, answer.text
        assert answer.headers["content-type"].startswith("application/sdp")
        location = answer.headers["location"]
        assert location.endswith(f"/v1/realtime_sessions/{session_id}/whip/call")
        second = await asyncio.to_thread(post_offer, url, token, sdp)
        assert second.status_code == 409 and "already connected" in error_of(second)
        trickle = await http("PATCH", location, headers={"Authorization": f"Bearer {token}"})
        assert trickle.status_code == 405
        stranger = await http("DELETE", location, headers={"Authorization": "Bearer nope"})
        assert stranger.status_code == 404
        hang_up = await http("DELETE", location, headers={"Authorization": f"Bearer {token}"})
        assert hang_up.status_code == 200
        again = await http("DELETE", location, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 200, "a repeated hang-up is not an error"
    finally:
        await peer.close()
    # The peer never finished connecting, so the session never ran.
    session = wait_status(api, session_id, {"FAILED", "COMPLETED"})
    assert session["status"] == "FAILED" and session["failureCode"] == "CONNECTION_TIMEOUT"


async def test_offers_for_sessions_that_are_not_ready_are_refused(
    api: httpx.Client, avatar_id: str
) -> None:
    session_id, key = ready_session(api, avatar_id)
    creds = consume(api, session_id, key)
    deleted = await asyncio.to_thread(api.delete, f"/v1/realtime_sessions/{session_id}")
    assert deleted.status_code == 204
    peer, sdp = await offer_sdp()
    try:
        response = await asyncio.to_thread(post_offer, creds["url"], creds["token"], sdp)
    finally:
        await peer.close()
    assert response.status_code == 409 and "CANCELLED" in error_of(response)
    unknown = await asyncio.to_thread(
        post_offer,
        creds["url"].replace(session_id, "00000000-0000-4000-8000-000000000000"),
        creds["token"],
        sdp,
    )
    assert unknown.status_code == 404


async def test_browsers_may_signal_cross_origin(live_server: Server, avatar_id: str) -> None:
    url = f"{live_server.base_url}/v1/realtime_sessions/{avatar_id}/whip"
    preflight = await http(
        "OPTIONS",
        url,
        headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    refused = await http("POST", url, headers={"Origin": "https://app.example"})
    assert "Location" in refused.headers["access-control-expose-headers"]


async def test_garbage_on_the_data_channel_and_a_silent_caller_are_survived(
    live_server: Server, api: httpx.Client, avatar_id: str
) -> None:
    async with Caller(live_server.base_url, API_KEY, avatar_id) as call:
        for junk in ["not json", "[]", json.dumps({"type": "HACK", "x": 1}), b"\xff\x00"]:
            call.channel.send(junk)
        await call.wait_for_state("speaking", 30)
        await call.wait_until_listening(30)
        # The caller's microphone sends only silence: the avatar just keeps listening.
        await asyncio.sleep(2.0)
        assert call.state() == "listening"
        assert await status_of(api, str(call.session_id)) == "RUNNING"
    assert call.session_id is not None
    session = wait_status(api, call.session_id, {"COMPLETED"})
    assert session["duration"] >= 2
    assert len(conversation(api, call.session_id)["transcript"]) == 1


async def test_killing_the_api_process_takes_no_call_with_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """kill -9 of `serve` mid-call: its media worker keeps the call; a restarted API reaches it
    (the hang-up is forwarded there) and the worker exits once its last call ended."""
    from tests.engine.live.conftest import create_avatar

    server = Server(
        tmp_path_factory.mktemp("api-crash"),
        None,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        OPENCHARACTERS_RECORD_SESSIONS="false",
    ).start()
    try:
        with api_client(server) as api:
            avatar = create_avatar(api)
            call = Caller(server.base_url, API_KEY, avatar)
            await call.start()
            await call.wait_for_state("speaking", 90)
            await call.wait_until_listening(30)
            assert server.process is not None
            server.process.kill()
            await asyncio.to_thread(server.process.wait)
            frames = len(call.received.video_times)
            await asyncio.sleep(3.0)
            # Frames keep coming (how many depends on the machine's load; bench/ measures it).
            assert len(call.received.video_times) > frames, "the call went on"
            # A new API process (and a new worker of its own); off the loop the call runs on.
            await asyncio.to_thread(server.start)
            session = await asyncio.to_thread(wait_status, api, str(call.session_id), {"RUNNING"})
            assert session["status"] == "RUNNING"
            await call.hang_up()  # WHIP DELETE through the new API, to the old worker
            ended = await asyncio.to_thread(
                wait_status, api, str(call.session_id), {"COMPLETED"}, 15
            )
            assert ended["duration"] >= 2
            record = conversation(api, str(call.session_id))
            assert [e["content"] for e in record["transcript"]] == ["Hi, I'm Ada."]
            # The orphaned worker stopped once its call was over (it deregistered).
            database = server.data_dir / "opencharacters.db"
            deadline = time.monotonic() + 15
            while not _all_but_one_worker_stopped(database):
                assert time.monotonic() < deadline, "the orphaned worker kept running"
                await asyncio.sleep(0.2)
    finally:
        server.stop()


def _all_but_one_worker_stopped(database: Path) -> bool:
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT stopped_at FROM media_workers").fetchall()
    return len(rows) == 2 and sum(1 for (stopped,) in rows if stopped is None) == 1
