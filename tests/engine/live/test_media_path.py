"""A worker's /readyz media check: the advertised address must be this host's, and a LiveKit
deployment's server must answer (a real livekit-server, started and then stopped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencharacters.engine.live.media_path import MediaPathDown, check_media_path
from opencharacters.settings import Settings
from tests.support.livekit import LiveKitServer, binary

pytestmark = pytest.mark.integration


def test_an_advertised_address_must_be_on_this_host(tmp_path: Path) -> None:
    check_media_path(Settings(data_dir=tmp_path))  # nothing advertised: any interface will do
    check_media_path(Settings(data_dir=tmp_path, media_advertise_address="127.0.0.1"))
    with pytest.raises(MediaPathDown, match=r"192\.0\.2\.7 is not on this host"):
        check_media_path(Settings(data_dir=tmp_path, media_advertise_address="192.0.2.7"))


def test_a_livekit_deployment_needs_its_server(tmp_path: Path) -> None:
    binary()  # skips, saying how to build it, where livekit-server is not built
    livekit = LiveKitServer(tmp_path).start()
    try:
        settings = Settings(
            data_dir=tmp_path,
            transport="livekit",
            livekit={
                "url": livekit.url,
                "api_key": livekit.api_key,
                "api_secret": livekit.api_secret,
            },
        )
        check_media_path(settings)
    finally:
        livekit.stop()
    with pytest.raises(MediaPathDown, match=rf"LiveKit server {livekit.http_url}/ unreachable"):
        check_media_path(settings)
