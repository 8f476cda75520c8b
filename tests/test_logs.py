"""Log records name the session they concern, as text or as JSON lines."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from opencharacters.logs import TEXT_FORMAT, JsonFormatter, SessionContext, session_id_var

pytestmark = pytest.mark.unit


def render(formatter: logging.Formatter, message: str) -> str:
    record = logging.LogRecord(
        "opencharacters.test", logging.WARNING, __file__, 1, message, (), None
    )
    SessionContext().filter(record)
    return formatter.format(record)


def test_json_lines_carry_the_session_of_the_task_that_logged() -> None:
    async def call(session_id: str) -> str:
        session_id_var.set(session_id)
        await asyncio.sleep(0)
        return await asyncio.create_task(asyncio.to_thread(render, JsonFormatter(), "hello"))

    async def both() -> list[str]:
        return list(await asyncio.gather(call("s-1"), call("s-2")))

    first, second = (json.loads(line) for line in asyncio.run(both()))
    assert first["session_id"] == "s-1" and second["session_id"] == "s-2"
    assert first["message"] == "hello" and first["level"] == "WARNING"
    assert first["logger"] == "opencharacters.test" and first["time"].endswith("+00:00")
    outside = json.loads(render(JsonFormatter(), "no call"))
    assert "session_id" not in outside


def test_text_lines_tag_the_session_only_inside_a_call() -> None:
    formatter = logging.Formatter(TEXT_FORMAT)
    assert "[session" not in render(formatter, "idle")
    token = session_id_var.set("s-9")
    try:
        assert "opencharacters.test [session s-9]: busy" in render(formatter, "busy")
    finally:
        session_id_var.reset(token)
