"""The OpenAI-compatible chat backend against a local fake server that streams real SSE
chat.completion.chunk events, and the Conversation logic on top of it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from opencharacters.dialogue.conversation import Conversation
from opencharacters.dialogue.openai_backend import OpenAIChatError, OpenAIChatModel
from opencharacters.engine_settings import DialogueSettings

pytestmark = pytest.mark.integration

REPLY = ["Sure", ", I can", " help", " with **that**.", " Anything", " else?"]


def _chunk(content: str | None, finish: str | None = None) -> str:
    delta = {"content": content} if content is not None else {}
    event = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(event)}\n\n"


@pytest.fixture
async def fake_chat() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    requests: list[dict[str, Any]] = []

    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        requests.append(body)
        if body["model"] == "missing":
            return web.json_response({"error": {"message": "no such model"}}, status=404)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b": keep-alive\n\n")
        await response.write(_chunk("").encode())  # role-only first chunk, as OpenAI sends
        for piece in REPLY:
            await response.write(_chunk(piece).encode())
        await response.write(_chunk(None, "stop").encode())
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", requests
    await runner.cleanup()


async def test_streams_deltas(fake_chat: tuple[str, list[dict[str, Any]]]) -> None:
    url, requests = fake_chat
    model = OpenAIChatModel(
        DialogueSettings(backend="openai", openai_base_url=url, openai_model="m")
    )
    persona = await model.prepare("Be Mia.")
    messages = [{"role": "system", "content": "Be Mia."}, {"role": "user", "content": "Hi"}]
    deltas = [d async for d in model.stream(persona, messages, 40)]  # type: ignore[arg-type]
    assert deltas == REPLY
    assert requests[0]["stream"] is True
    assert requests[0]["max_tokens"] == 40
    assert requests[0]["messages"] == messages


async def test_conversation_chunks_cleans_and_remembers(
    fake_chat: tuple[str, list[dict[str, Any]]],
) -> None:
    url, requests = fake_chat
    settings = DialogueSettings(backend="openai", openai_base_url=url)
    conversation = Conversation(OpenAIChatModel(settings), "You are Mia.", settings)
    await conversation.prepare()
    chunks = [c async for c in conversation.reply("Can you help?", passages=["Open 9 to 5."])]
    # A one-word first clause is spoken at once; the rest follows while it plays.
    assert chunks == ["Sure,", "I can help with that.", "Anything else?"]
    assert conversation.history == [
        {"role": "user", "content": "Can you help?"},
        {"role": "assistant", "content": "Sure, I can help with that. Anything else?"},
    ]
    assert "Open 9 to 5." in requests[0]["messages"][-1]["content"]
    _ = [c async for c in conversation.reply("Thanks")]
    assert requests[1]["messages"][1:3] == conversation.history[:2]


async def test_barge_in_keeps_only_what_was_said(
    fake_chat: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = fake_chat
    settings = DialogueSettings(backend="openai", openai_base_url=url)
    conversation = Conversation(OpenAIChatModel(settings), "You are Mia.", settings)
    replies = conversation.reply("Hi")
    first = await anext(replies)  # type: ignore[arg-type]
    await replies.aclose()  # type: ignore[attr-defined]
    assert conversation.history[-1] == {"role": "assistant", "content": first}


async def test_errors_are_raised(fake_chat: tuple[str, list[dict[str, Any]]]) -> None:
    url, _ = fake_chat
    model = OpenAIChatModel(DialogueSettings(openai_base_url=url, openai_model="missing"))
    persona = await model.prepare("x")
    with pytest.raises(OpenAIChatError, match="404"):
        async for _ in model.stream(persona, [{"role": "user", "content": "Hi"}], 10):
            pass
