"""The Python call client (`opencharacters call`'s Caller) over LiveKit, when the server ends
the call: a DELETE of the session makes the avatar leave and closes the room, and the caller
says so within seconds instead of waiting for media that will not come (a real server and a
real livekit-server)."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from opencharacters.client.call import Caller, PeerGone
from tests.engine.live.conftest import in_thread, wait_status
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_a_closed_room_ends_the_call_with_a_clear_reason(
    lk_server: Server, lk_api: httpx.Client, lk_avatar: str
) -> None:
    async with Caller(lk_server.base_url, API_KEY, lk_avatar) as call:
        assert call.livekit is not None and call.peer is None
        await call.wait_for_state("listening", 60, seen_ok=True)
        assert call.received.transcript("assistant") == {1: "Hi, I'm Ada."}
        assert call.received.audio and call.received.video_size is not None
        deleted = await in_thread(lk_api.delete, f"/v1/realtime_sessions/{call.session_id}")
        assert deleted.status_code == 204, deleted.text
        asked = time.monotonic()
        with pytest.raises(PeerGone) as lost:
            await call.wait_for(lambda _message: False, 30, what="nothing")
        noticed_s = time.monotonic() - asked
    message = str(lost.value)
    # The avatar leaves the room and the server deletes it: whichever the caller sees first.
    assert re.search(
        r"the LiveKit room closed \(ROOM_DELETED\)|the avatar left the LiveKit room", message
    ), message
    assert "the session ended CANCELLED" in message, message
    assert noticed_s < 5, f"noticed after {noticed_s:.1f} s"
    session = await in_thread(wait_status, lk_api, str(call.session_id), {"CANCELLED"})
    assert session["status"] == "CANCELLED"
