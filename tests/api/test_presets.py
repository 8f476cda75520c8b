"""Preset characters (`runway-preset`) through Runway's Python SDK and raw HTTP, on a real
server, on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image
from runwayml import RunwayML

from opencharacters.domain.preset_characters import PRESET_CHARACTERS, PRESET_CHARACTERS_BY_ID
from opencharacters.domain.voices import PRESETS_BY_ID
from tests.support.http import api, error_of, wait_for
from tests.support.server import Server

pytestmark = pytest.mark.integration


def test_every_preset_is_listed_ready_with_its_look_and_voice(server: Server) -> None:
    with api(server) as http:
        listed = http.get("/v1/avatar_presets", timeout=120)
        assert listed.status_code == 200, listed.text
        items = listed.json()["data"]
        assert [item["presetId"] for item in items] == [p.id for p in PRESET_CHARACTERS]
        names = set()
        for item in items:
            preset = PRESET_CHARACTERS_BY_ID[item["presetId"]]
            assert item["type"] == "runway-preset"
            assert item["name"] == preset.name and item["editable"] is False
            assert item["personality"] and item["startScript"]
            assert item["voice"]["type"] == "runway-live-preset"
            assert item["voice"]["presetId"] in PRESETS_BY_ID
            names.add(item["name"])
            image = httpx.get(item["processedImageUri"])
            assert image.status_code == 200
            assert Image.open(io.BytesIO(image.content)).size[0] > 100
        assert len(names) == 9
        assert {"Mina", "Mochi", "Sofia", "Marco"} <= names  # Runway's own examples' names
        one = http.get("/v1/avatar_presets/cat-character").json()
        assert one["name"] == "Mochi"
        missing = http.get("/v1/avatar_presets/dog-character")
        assert missing.status_code == 404 and "cat-character" in error_of(missing)


def test_a_preset_session_and_its_conversation_through_the_sdk(
    client: RunwayML, server: Server
) -> None:
    created = client.realtime_sessions.create(
        model="gwm1_avatars",
        avatar={"type": "runway-preset", "preset_id": "music-superstar"},
        personality="You are Mina, and today you only talk about your new album.",
        start_script="Hi, it's Mina! Want to hear about my new album?",
        max_duration=60,
    )
    ready = wait_for(
        lambda: client.realtime_sessions.retrieve(created.id),
        lambda s: s.status != "NOT_READY",
        timeout=60,
    )
    assert ready.status == "READY", ready

    listed = client.avatar_conversations.list(limit=50)
    item = next(c for c in listed.data if c.id == created.id)
    assert item.avatar is not None
    assert item.avatar.type == "runway-preset"
    assert item.avatar.preset_id == "music-superstar"  # type: ignore[union-attr]
    assert item.avatar.name == "Mina"
    assert item.name.startswith("Mina")

    conversation = client.avatar_conversations.retrieve(created.id)
    assert conversation.avatar is not None and conversation.avatar.type == "runway-preset"
    assert conversation.avatar.preset_id == "music-superstar"  # type: ignore[union-attr]
    assert conversation.max_duration == 60

    client.realtime_sessions.delete(created.id)
    cancelled = client.realtime_sessions.retrieve(created.id)
    assert cancelled.status == "CANCELLED"


def test_preset_avatars_are_usable_but_not_editable(server: Server) -> None:
    preset = PRESET_CHARACTERS_BY_ID["tennis-coach"]
    with api(server) as http:
        body = {"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": preset.id}}
        assert http.post("/v1/realtime_sessions", json=body).status_code == 200
        # The preset's avatar row belongs to no caller: not listed, not readable, not editable.
        listed = http.get("/v1/avatars", params={"limit": 100}).json()["data"]
        assert preset.avatar_id not in {a["id"] for a in listed}
        assert http.get(f"/v1/avatars/{preset.avatar_id}").status_code == 404
        patched = http.patch(f"/v1/avatars/{preset.avatar_id}", json={"name": "Mine now"})
        assert patched.status_code == 404
        assert http.delete(f"/v1/avatars/{preset.avatar_id}").status_code == 404
        assert http.get("/v1/avatar_presets/tennis-coach").json()["name"] == preset.name

        unknown = http.post(
            "/v1/realtime_sessions",
            json={"model": "gwm1_avatars", "avatar": {"type": "runway-preset", "presetId": "dog"}},
        )
        assert unknown.status_code == 400 and "presetId" in error_of(unknown)


def test_a_preset_speaks_in_an_avatar_video(client: RunwayML, server: Server) -> None:
    created = client.avatar_videos.create(
        model="gwm1_avatars",
        avatar={"type": "runway-preset", "preset_id": "cooking-teacher"},
        speech={"type": "text", "text": "Buongiorno! Let's make pasta."},
    )
    task = wait_for(
        lambda: client.tasks.retrieve(created.id),
        lambda t: t.status in ("SUCCEEDED", "FAILED"),
        timeout=180,
    )
    assert task.status == "SUCCEEDED", task
    video = httpx.get(task.output[0], timeout=60)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
