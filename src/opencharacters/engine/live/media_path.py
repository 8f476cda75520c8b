"""Whether a media worker can carry calls right now (its /readyz): the path callers' media takes.

With WHIP the worker itself receives the media, so the address it advertises must be one it
can listen on (a moved VM, a container started on the wrong network). With LiveKit the media
goes through the LiveKit server, which must answer. Each check raises with the reason."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit

import httpx

from opencharacters.settings import Settings

CHECK_TIMEOUT_S = 3.0


class MediaPathDown(RuntimeError):
    pass


def check_media_path(settings: Settings) -> None:
    if settings.transport == "livekit" and settings.livekit.url:  # settings require the URL
        _check_livekit(settings.livekit.url)
    elif settings.media_advertise_address:
        _check_listenable(settings.media_advertise_address)


def _check_livekit(url: str) -> None:
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    # livekit-server answers its root path with 200 "OK" (its own health check).
    health = urlunsplit((scheme, parts.netloc, "/", "", ""))
    try:
        answer = httpx.get(health, timeout=CHECK_TIMEOUT_S)
    except httpx.HTTPError as error:
        raise MediaPathDown(f"LiveKit server {health} unreachable: {error}") from None
    if answer.status_code != 200:
        raise MediaPathDown(f"LiveKit server {health} answered HTTP {answer.status_code}")


def _check_listenable(address: str) -> None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError as error:
            raise MediaPathDown(
                f"the advertised media address {address} is not on this host ({error.strerror})"
            ) from None
