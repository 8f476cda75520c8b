"""The backend link of backend_rpc tools, with an in-memory socket."""

from __future__ import annotations

import asyncio
import json

import pytest

from opencharacters.engine.live.backends import MAX_MESSAGE_BYTES, BackendLinks, BackendRefused

pytestmark = pytest.mark.unit


class Socket:
    def __init__(self) -> None:
        self.incoming: asyncio.Queue[str] = asyncio.Queue()
        self.sent: list[dict[str, object]] = []
        self.closed: tuple[int, str | None] | None = None

    async def send_text(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def receive_text(self) -> str:
        return await self.incoming.get()

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


async def test_calls_are_answered_timed_out_and_refused_cleanly() -> None:
    links = BackendLinks()
    no_backend = await links.call("s", "check", {}, 1.0)
    assert no_backend.error == "no backend is connected to this session"
    token = links.mint("s")
    socket = Socket()
    with pytest.raises(BackendRefused):
        await links.attach("s", "wrong", Socket())
    serving = asyncio.ensure_future(links.attach("s", token, socket))
    await asyncio.sleep(0)
    with pytest.raises(BackendRefused) as second:
        await links.attach("s", token, Socket())
    assert second.value.code == 4409
    assert links.mint("s") == token  # attached: the same credentials stay valid

    call = asyncio.ensure_future(links.call("s", "check", {"id": "7"}, 2.0))
    await asyncio.sleep(0.01)
    request = socket.sent[-1]
    assert request["method"] == "check" and request["args"] == {"id": "7"}
    assert request["timeoutMs"] == 2000
    socket.incoming.put_nowait(json.dumps({"type": "rpc_result", "id": request["id"], "result": 5}))
    outcome = await call
    assert outcome.result == 5 and outcome.error is None and outcome.duration_ms is not None

    failing = asyncio.ensure_future(links.call("s", "check", {}, 2.0))
    await asyncio.sleep(0.01)
    socket.incoming.put_nowait(
        json.dumps({"type": "rpc_error", "id": socket.sent[-1]["id"], "error": "no such order"})
    )
    assert (await failing).error == "no such order"

    slow = await links.call("s", "check", {}, 0.05)
    assert slow.error == "the backend did not answer within 0.05 s"
    socket.incoming.put_nowait("garbage")  # ignored
    oversized = asyncio.ensure_future(links.call("s", "check", {}, 0.2))
    await asyncio.sleep(0.01)
    socket.incoming.put_nowait(
        json.dumps(
            {"type": "rpc_result", "id": socket.sent[-1]["id"], "result": "x" * MAX_MESSAGE_BYTES}
        )
    )
    assert (await oversized).error == "the backend did not answer within 0.2 s"
    socket.incoming.put_nowait(json.dumps({"type": "rpc_result", "id": "late", "result": 1}))

    await links.end("s")
    assert socket.sent[-1] == {"type": "session_ended"} and socket.closed == (1000, "session ended")
    serving.cancel()
