"""A session's LiveKit room: who may join it (access tokens) and closing it (the server API).

One room per session, named by the session id, so two sessions never share one. The caller's
token is what `consume` returns to a Runway SDK (runway-api.md §4): join this room only, publish
a microphone, a camera and a screen, publish data, subscribe. The avatar's identity starts with
`worker:` because Runway's RPC helper accepts calls only from such participants."""

from __future__ import annotations

import datetime
import logging
import secrets
from typing import Literal

import aiohttp
from livekit import api

from opencharacters.settings import LiveKitSettings

log = logging.getLogger(__name__)

AVATAR_IDENTITY = "worker:avatar"
BACKEND_IDENTITY = "backend"
"""The developer's backend (connect_backend): the one participant the avatar calls tools on."""
BACKEND_TOKEN_TTL = datetime.timedelta(hours=2)
"""A backend may attach while the session waits and stays for the whole call."""
CALLER_IDENTITY_PREFIX = "caller:"
CALLER_SOURCES = ["microphone", "camera", "screen_share", "screen_share_audio"]
"""What a caller may publish: what Runway's SDK does (microphone, camera, screen share)."""
AVATAR_TOKEN_TTL = datetime.timedelta(hours=6)
"""The avatar's own token outlives any call (maxDuration is at most an hour)."""
_API_TIMEOUT_S = 5.0


def _credentials(settings: LiveKitSettings) -> tuple[str, str, str]:
    if not settings.url or not settings.api_key or not settings.api_secret:
        raise RuntimeError(
            "the LiveKit transport needs OPENCHARACTERS_LIVEKIT__URL, __API_KEY and __API_SECRET"
        )
    return settings.url, settings.api_key, settings.api_secret


def _token(
    settings: LiveKitSettings,
    grants: api.VideoGrants,
    *,
    identity: str,
    name: str,
    ttl: datetime.timedelta,
    kind: Literal["agent"] | None = None,
) -> str:
    _, key, secret = _credentials(settings)
    token = api.AccessToken(key, secret).with_identity(identity).with_name(name)
    if kind is not None:
        token = token.with_kind(kind)
    return token.with_grants(grants).with_ttl(ttl).to_jwt()


def caller_token(settings: LiveKitSettings, room: str) -> str:
    """A short-lived token for the session's caller: this room only, its own media and data."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=True,
        can_subscribe=True,
        can_publish_data=True,
        can_publish_sources=CALLER_SOURCES,
    )
    return _token(
        settings,
        grants,
        identity=f"{CALLER_IDENTITY_PREFIX}{secrets.token_hex(4)}",
        name="caller",
        ttl=datetime.timedelta(seconds=settings.token_ttl_s),
    )


def avatar_token(settings: LiveKitSettings, room: str) -> str:
    """The worker's token: joins the room as the avatar participant."""
    grants = api.VideoGrants(
        room_join=True, room=room, can_publish=True, can_subscribe=True, can_publish_data=True
    )
    return _token(
        settings,
        grants,
        identity=AVATAR_IDENTITY,
        name="avatar",
        ttl=AVATAR_TOKEN_TTL,
        kind="agent",
    )


def backend_credentials(settings: LiveKitSettings, room: str) -> dict[str, str]:
    """What connect_backend returns with the LiveKit transport: the developer's backend joins
    the room hidden (the page sees only the avatar), without media, and answers the avatar's
    `backend_rpc` tools as LiveKit RPC methods (Runway's `@runwayml/avatars-node-rpc`)."""
    grants = api.VideoGrants(
        room_join=True,
        room=room,
        can_publish=False,
        can_subscribe=False,
        can_publish_data=True,
        hidden=True,
    )
    token = _token(
        settings, grants, identity=BACKEND_IDENTITY, name="backend", ttl=BACKEND_TOKEN_TTL
    )
    return {"url": signalling_url(settings), "token": token, "roomName": room}


def caller_credentials(settings: LiveKitSettings, room: str) -> dict[str, str]:
    """What consume returns with the LiveKit transport (Runway's `{url, token, roomName}`)."""
    return {
        "url": signalling_url(settings),
        "token": caller_token(settings, room),
        "roomName": room,
    }


def signalling_url(settings: LiveKitSettings) -> str:
    url, _, _ = _credentials(settings)
    return url


async def close_room(settings: LiveKitSettings, room: str) -> None:
    """Deletes the room: every participant is disconnected and sees the call end."""
    url, key, secret = _credentials(settings)
    http_url = url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
    client = api.LiveKitAPI(
        http_url, key, secret, timeout=aiohttp.ClientTimeout(total=_API_TIMEOUT_S), failover=False
    )
    try:
        await client.room.delete_room(api.DeleteRoomRequest(room=room))
    except api.TwirpError as exc:
        if exc.code != api.TwirpErrorCode.NOT_FOUND:
            raise
    finally:
        await client.aclose()
