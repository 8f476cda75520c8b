"""Knowledge in a real call: the avatar's documents are searched on the caller's words and the
answer is given from them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from opencharacters.client.call import Caller
from opencharacters.media.audio import Samples
from tests.engine.live.conftest import create_avatar
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAQ = """# Trailhead Outfitters FAQ

## Returns
You can return any item within 30 days of delivery for a full refund. Bring the receipt.

## Shipping
Standard shipping takes five business days. Express shipping takes two business days.

## Store hours
The store on Pine Street opens at nine in the morning and closes at six in the evening.
"""


async def test_answers_come_from_the_avatars_documents(
    live_server: Server, api: httpx.Client, say: Callable[[str], tuple[Samples, int]]
) -> None:
    document = await asyncio.to_thread(
        api.post, "/v1/documents", json={"name": "Store FAQ", "content": FAQ}
    )
    assert document.status_code == 200, document.text
    avatar = create_avatar(
        api,
        name="Sam",
        personality="You are Sam, the assistant of Trailhead Outfitters, an outdoor shop.",
        startScript="Hi, Sam here.",
        documentIds=[document.json()["id"]],
    )
    async with Caller(live_server.base_url, API_KEY, avatar) as call:
        await call.wait_for_state("speaking", 30)
        await call.wait_until_listening(30)
        await call.say(*say("How many days do I have to return an item?"))
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        turns = [m for _, m in call.received.messages if m.get("type") == "opencharacters.turn"]
        answer = call.received.transcript("assistant").get(3, "")
    notes = turns[-1]["notes"]
    assert notes and notes[0]["document"] == "Store FAQ", notes
    assert "Returns" in notes[0]["headings"], notes
    assert "30" in answer or "thirty" in answer.lower(), answer
