"""Actions: checked before they run, client events to the caller's app, backend calls with a
spoken filler and their timeout, every call on the reply's record."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from opencharacters.dialogue.tools import ToolCall, ToolOutcome, ToolRecord, ToolSpec
from opencharacters.pipeline.actions import FILLER, Actions
from tests.support.virtual_time import virtual_time

pytestmark = pytest.mark.unit

SHOW = ToolSpec.from_json(
    {
        "type": "client_event",
        "name": "show_product",
        "description": "Show a product",
        "parameters": [{"type": "string", "name": "product", "description": "which"}],
    }
)
ORDER = ToolSpec.from_json(
    {
        "type": "backend_rpc",
        "name": "check_order",
        "description": "Look up an order",
        "parameters": [{"type": "string", "name": "order_id", "description": "the id"}],
        "timeoutSeconds": 5,
    }
)


class Backend:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(
        self, session_id: str, method: str, args: dict[str, Any], timeout_s: float
    ) -> ToolOutcome:
        self.calls.append((method, args))
        await asyncio.sleep(self.delay_s)
        return ToolOutcome(result={"status": "shipped"}, duration_ms=self.delay_s * 1000)


@virtual_time
async def test_a_client_event_reaches_the_app_and_the_record() -> None:
    sent: list[dict[str, Any]] = []
    records: list[ToolRecord] = []
    run = Actions("s", [SHOW], sent.append, None).runner(records, pytest.fail)
    outcome = await run(ToolCall("c1", "show_product", {"product": "hat"}))
    assert outcome.result == {"status": "event_sent"}
    assert sent[0] == {"type": "client_event", "tool": "show_product", "args": {"product": "hat"}}
    assert sent[1]["type"] == "opencharacters.tool"
    assert [r.call.name for r in records] == ["show_product"]


@virtual_time
async def test_a_backend_call_is_covered_by_a_filler() -> None:
    said: list[tuple[str, float]] = []
    loop = asyncio.get_running_loop()

    async def say(text: str) -> None:
        said.append((text, loop.time()))
        await asyncio.sleep(1.0)

    backend = Backend(delay_s=2.0)
    records: list[ToolRecord] = []
    run = Actions("s", [ORDER], lambda m: None, backend).runner(records, say)
    started = loop.time()
    outcome = await run(ToolCall("c1", "check_order", {"order_id": "4417"}))
    assert outcome.result == {"status": "shipped"}
    assert said == [(FILLER, started)], "the filler starts as the call goes out"
    assert loop.time() - started == pytest.approx(2.0)
    assert backend.calls == [("check_order", {"order_id": "4417"})]
    assert records[0].outcome is outcome


@virtual_time
async def test_without_a_backend_the_model_hears_why() -> None:
    records: list[ToolRecord] = []
    run = Actions("s", [ORDER], lambda m: None, None).runner(records, pytest.fail)
    outcome = await run(ToolCall("c1", "check_order", {"order_id": "1"}))
    assert outcome.error == "no backend is connected to this session"
