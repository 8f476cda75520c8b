"""An action never replaces an answer, in a real call with the embedded model: a caller asks a
factual question while the session declares an action close to its subject; whether or not the
model also acts, the avatar answers from its knowledge document (issue 18: it used to fire the
action and say only "Done, there you go.")."""

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

GUIDE = """# Meridian Museum visitor guide

## Opening hours
The museum opens at ten in the morning on Sundays and closes at five in the afternoon.

## Tickets
An adult ticket costs twelve euros. Children under twelve enter free.
"""
TOOLS = [
    {
        "type": "client_event",
        "name": "show_exhibit",
        "description": "Show an exhibit of the museum on the caller's screen",
        "parameters": [
            {
                "type": "string",
                "name": "exhibit",
                "description": "the exhibit to show",
                "enum": ["meridian", "dinosaurs", "starlight"],
            }
        ],
    }
]


async def test_a_question_is_answered_even_when_an_action_fires(
    live_server: Server, api: httpx.Client, say_naturally: Callable[[str], tuple[Samples, int]]
) -> None:
    document = await asyncio.to_thread(
        api.post, "/v1/documents", json={"name": "Visitor guide", "content": GUIDE}
    )
    assert document.status_code == 200, document.text
    avatar = create_avatar(
        api,
        name="Mia",
        personality="You are Mia, the guide of the Meridian Museum.",
        startScript="Hi, Mia here.",
        documentIds=[document.json()["id"]],
    )
    async with Caller(
        live_server.base_url, API_KEY, avatar, session_options={"tools": TOOLS}
    ) as call:
        await call.wait_for_state("speaking", 30)
        await call.wait_until_listening(30)
        await call.say(
            *say_naturally("What time does the museum open on Sundays, and how much is a ticket?")
        )
        # Two generations (the action's arguments, then the answer) on a shared 2-core box.
        await call.wait_for_state("speaking", 120)
        await call.wait_until_listening(120)
        heard = call.received.transcript("user")
        answers = call.received.transcript("assistant")
        events = [m for _, m in call.received.messages if m.get("type") == "client_event"]
    answer = answers.get(3, "")
    context = (heard, answers, events)
    assert "done, there you go" not in answer.lower(), context
    words = set(answer.lower().replace(",", " ").replace(".", " ").split())
    assert words & {"ten", "10", "twelve", "12", "10am", "10:00"}, context
