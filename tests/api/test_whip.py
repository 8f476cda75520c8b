"""The WHIP offer at the edge: the media token is checked before anything about the session is
said, and an offer that cannot be used gets a reason. (Calls themselves: tests/engine/live.)"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from aiortc import RTCPeerConnection

from opencharacters.api.routers.whip import offer_problem
from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.server import Server

pytestmark = pytest.mark.e2e


def real_offer() -> str:
    async def make() -> str:
        peer = RTCPeerConnection()
        peer.addTransceiver("audio", direction="sendrecv")
        peer.addTransceiver("video", direction="recvonly")
        peer.createDataChannel("events")
        await peer.setLocalDescription(await peer.createOffer())
        assert peer.localDescription is not None
        sdp = peer.localDescription.sdp
        await peer.close()
        return sdp

    return asyncio.run(make())


def without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefix))


def test_real_offers_pass() -> None:
    sdp = real_offer()
    assert offer_problem(sdp) is None
    # Firefox puts the fingerprint and ICE credentials at the session level.
    lines = sdp.split("\r\n")
    moved = [
        line for line in lines if line.startswith(("a=fingerprint", "a=ice-ufrag", "a=ice-pwd"))
    ]
    rest = [line for line in lines if line not in moved]
    timing = next(i for i, line in enumerate(rest) if line.startswith("t="))
    firefox = rest[: timing + 1] + sorted(set(moved)) + rest[timing + 1 :]
    assert offer_problem("\r\n".join(firefox)) is None


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda sdp: "hello, I am not SDP", "not an SDP offer (its first line must be v=0)"),
        (lambda sdp: "", "not an SDP offer"),
        (lambda sdp: "v=0\r\ns=-\r\n", "the SDP offer has no media (m=) lines"),
        (lambda sdp: sdp + "garbage\r\n", "is not '<letter>=<value>': 'garbage'"),
        (lambda sdp: "v=0\r\nm=audio\r\n", "line 2 of the SDP offer is not a media line"),
        (lambda sdp: without(sdp, "a=ice-ufrag"), "has no ICE credentials (a=ice-ufrag"),
        (lambda sdp: without(sdp, "a=fingerprint"), "has no DTLS fingerprint"),
    ],
)
def test_unusable_offers_say_why(change: object, reason: str) -> None:
    problem = offer_problem(change(real_offer()))  # type: ignore[operator]
    assert problem is not None and problem.startswith("body: ") and reason in problem


def test_the_token_comes_before_the_state_and_garbage_gets_a_reason(server: Server) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        created = http.post(
            "/v1/realtime_sessions",
            json={"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar["id"]}},
        )
        session_id = created.json()["id"]
        ready = wait_for(
            lambda: http.get(f"/v1/realtime_sessions/{session_id}").json(),
            lambda s: s["status"] == "READY",
        )
        credentials = httpx.post(
            f"{server.base_url}/v1/realtime_sessions/{session_id}/consume",
            headers={"Authorization": f"Bearer {ready['sessionKey']}"},
        ).json()
        url, token = credentials["url"], credentials["token"]

        def offer(sdp: str, bearer: str) -> httpx.Response:
            return httpx.post(
                url,
                content=sdp.encode(),
                headers={"Authorization": f"Bearer {bearer}", "Content-Type": "application/sdp"},
            )

        garbage = offer("v=0\r\nm=audio\r\n", token)
        assert garbage.status_code == 400
        assert "is not a media line ('m=<media> <port> <proto> <formats>'): 'm=audio'" in (
            error_of(garbage)
        )
        assert http.delete(f"/v1/realtime_sessions/{session_id}").status_code == 204
        wrong = offer(real_offer(), "guessed-token")
        assert wrong.status_code == 401 and "CANCELLED" not in wrong.text
        right = offer(real_offer(), token)
        assert right.status_code == 409 and "CANCELLED" in error_of(right)
