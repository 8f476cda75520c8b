"""The LiveKit room's tokens and the transport setting (no server: the JWTs are read back)."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from opencharacters.engine.live.livekit_room import (
    AVATAR_IDENTITY,
    BACKEND_IDENTITY,
    avatar_token,
    backend_credentials,
    caller_credentials,
)
from opencharacters.settings import LiveKitSettings, Settings

pytestmark = pytest.mark.unit

LIVEKIT = LiveKitSettings(
    url="wss://livekit.example.org/", api_key="APIkey", api_secret="s" * 32, token_ttl_s=120
)


def claims(token: str) -> dict[str, object]:
    decoded: dict[str, object] = jwt.decode(token, "s" * 32, algorithms=["HS256"])
    return decoded


def test_the_caller_may_join_only_its_session_room_for_a_short_while() -> None:
    credentials = caller_credentials(LIVEKIT, "session-1")
    assert credentials["url"] == "wss://livekit.example.org"
    assert credentials["roomName"] == "session-1"
    token = claims(credentials["token"])
    assert token["iss"] == "APIkey"
    assert str(token["sub"]).startswith("caller:")
    video = token["video"]
    assert isinstance(video, dict)
    assert video["room"] == "session-1" and video["roomJoin"] is True
    assert video["canPublish"] and video["canSubscribe"] and video["canPublishData"]
    assert sorted(video["canPublishSources"]) == [
        "camera",
        "microphone",
        "screen_share",
        "screen_share_audio",
    ]
    assert not video.get("roomAdmin") and not video.get("roomCreate")
    exp = token["exp"]
    assert isinstance(exp, int) and 0 < exp - time.time() <= 120


def test_two_callers_get_different_identities() -> None:
    first = claims(caller_credentials(LIVEKIT, "s")["token"])["sub"]
    second = claims(caller_credentials(LIVEKIT, "s")["token"])["sub"]
    assert first != second


def test_the_avatar_is_a_worker_participant_of_that_room() -> None:
    token = claims(avatar_token(LIVEKIT, "session-1"))
    assert token["sub"] == AVATAR_IDENTITY and AVATAR_IDENTITY.startswith("worker:")
    assert token["kind"] == "agent"
    video = token["video"]
    assert isinstance(video, dict) and video["room"] == "session-1"


def test_the_backend_joins_hidden_without_media() -> None:
    credentials = backend_credentials(LIVEKIT, "session-1")
    assert credentials["roomName"] == "session-1"
    assert credentials["url"].startswith("wss://livekit.example.org")
    token = claims(credentials["token"])
    assert token["sub"] == BACKEND_IDENTITY and "kind" not in token
    video = token["video"]
    assert isinstance(video, dict)
    assert video["room"] == "session-1" and video["hidden"] is True
    assert video["canPublishData"] is True
    assert video["canPublish"] is False and video["canSubscribe"] is False


def test_whip_is_the_default_and_livekit_needs_its_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("TRANSPORT", "LIVEKIT__URL", "LIVEKIT__API_KEY", "LIVEKIT__API_SECRET"):
        monkeypatch.delenv(f"OPENCHARACTERS_{name}", raising=False)
    assert Settings().transport == "whip"
    monkeypatch.setenv("OPENCHARACTERS_TRANSPORT", "livekit")
    monkeypatch.setenv("OPENCHARACTERS_LIVEKIT__URL", "ws://127.0.0.1:7880")
    with pytest.raises(ValidationError, match="OPENCHARACTERS_LIVEKIT__API_SECRET"):
        Settings()
    monkeypatch.setenv("OPENCHARACTERS_LIVEKIT__API_KEY", "key")
    monkeypatch.setenv("OPENCHARACTERS_LIVEKIT__API_SECRET", "secret")
    settings = Settings()
    assert settings.transport == "livekit" and settings.livekit.url == "ws://127.0.0.1:7880"
    monkeypatch.setenv("OPENCHARACTERS_LIVEKIT__URL", "livekit.example.org")
    with pytest.raises(ValidationError, match="ws://"):
        Settings()
