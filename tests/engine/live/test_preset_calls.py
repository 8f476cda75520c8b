"""Live calls with preset characters: real server, WHIP, aiortc peers, real models."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable

import httpx
import numpy as np
import pytest

from opencharacters.client.call import Caller
from opencharacters.domain.preset_characters import PRESET_CHARACTERS_BY_ID
from opencharacters.media.audio import Samples
from tests.engine.live.conftest import conversation, wait_status
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

Say = Callable[[str], tuple[Samples, int]]


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def preset(preset_id: str, **overrides: object) -> dict[str, object]:
    return {"avatar": {"type": "runway-preset", "presetId": preset_id}, **overrides}


async def test_a_preset_greets_and_answers_in_character(
    live_server: Server, api: httpx.Client, say_naturally: Say
) -> None:
    coach = PRESET_CHARACTERS_BY_ID["tennis-coach"]
    question = say_naturally("What is your name?")
    async with Caller(
        live_server.base_url, API_KEY, coach.avatar_id, session_options=preset(coach.id)
    ) as call:
        assert call.session_id is not None
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        assert call.received.transcript("assistant") == {1: coach.start_script}
        assert np.abs(call.received.audio_samples()).max() > 0.05, "the greeting was heard"
        assert call.received.video_size == (1088, 704)
        await call.say_and_wait_for_answer(*question, timeout_s=60)
        answers = call.received.transcript("assistant")
        heard = call.received.transcript("user")
    assert 3 in answers, (heard, answers)
    assert "diego" in words(answers[3]), f"the coach should say his name: {answers[3]!r}"
    await asyncio.to_thread(wait_status, api, call.session_id, {"COMPLETED"})
    record = await asyncio.to_thread(conversation, api, call.session_id)
    assert record["avatar"]["type"] == "runway-preset"
    assert record["avatar"]["presetId"] == "tennis-coach"
    assert record["transcript"][0]["content"] == coach.start_script


async def test_a_sessions_start_script_overrides_the_presets(
    live_server: Server, api: httpx.Client
) -> None:
    cat = PRESET_CHARACTERS_BY_ID["cat-character"]
    opening = "Mrrow! Have you seen my new box?"
    options = preset(cat.id, startScript=opening, personality="You are Mochi, a box-loving cat.")
    async with Caller(
        live_server.base_url, API_KEY, cat.avatar_id, session_options=options
    ) as call:
        assert call.session_id is not None
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        assert call.received.transcript("assistant") == {1: opening}
    await asyncio.to_thread(wait_status, api, call.session_id, {"COMPLETED"})
    page = await asyncio.to_thread(api.get, "/v1/avatar_conversations", params={"limit": 10})
    listed = page.json()["data"]
    item = next(c for c in listed if c["id"] == call.session_id)
    assert item["avatar"] == {"type": "runway-preset", "presetId": cat.id, "name": "Mochi"}


@pytest.mark.parametrize("preset_id", [p for p in PRESET_CHARACTERS_BY_ID if p != "tennis-coach"])
async def test_every_preset_greets_with_its_own_line_and_voice(
    live_server: Server, preset_id: str
) -> None:
    character = PRESET_CHARACTERS_BY_ID[preset_id]
    async with Caller(
        live_server.base_url, API_KEY, character.avatar_id, session_options=preset(preset_id)
    ) as call:
        await call.wait_for_state("speaking", 60)
        await call.wait_until_listening(60)
        assert call.received.transcript("assistant") == {1: character.start_script}
        assert np.abs(call.received.audio_samples()).max() > 0.05, "the greeting was heard"
        # Frame rate is measured by bench/live_bench.py (and test_live_calls); here: its face came.
        assert call.received.video_size == (1088, 704)
