"""One real server with the real models for the live-call tests, and helpers to call it."""

from __future__ import annotations

import asyncio
import io
import subprocess
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from opencharacters.media.audio import Samples, read_wav
from tests.support.http import api as api_client
from tests.support.livekit import LiveKitServer, binary
from tests.support.media import face_data_uri
from tests.support.server import API_KEY, Server

HEADERS = {"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"}


@pytest.fixture(scope="package")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("live"),
        None,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        OPENCHARACTERS_SESSION_CAPACITY="3",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def api(live_server: Server) -> Iterator[httpx.Client]:
    with api_client(live_server) as client:
        yield client


def create_avatar(api: httpx.Client, **fields: Any) -> str:
    body = {
        "name": "Ada",
        "referenceImage": face_data_uri(),
        "voice": {"type": "runway-live-preset", "presetId": "clara"},
        "personality": "You are Ada, a cheerful astronaut who answers questions about space.",
        "startScript": "Hi, I'm Ada.",
        **fields,
    }
    response = api.post("/v1/avatars", json=body)
    assert response.status_code == 200, response.text
    avatar_id = str(response.json()["id"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        avatar = api.get(f"/v1/avatars/{avatar_id}").json()
        if avatar["status"] == "READY":
            return avatar_id
        assert avatar["status"] == "PROCESSING", avatar
        time.sleep(0.2)
    raise AssertionError("avatar not READY in time")


@pytest.fixture(scope="package")
def avatar_id(api: httpx.Client) -> str:
    return create_avatar(api)


def espeak(text: str) -> tuple[Samples, int]:
    wav = subprocess.run(
        ["espeak-ng", "--stdout", "-s", "150", text], check=True, capture_output=True
    ).stdout
    return read_wav(io.BytesIO(wav).getvalue())


@pytest.fixture(scope="package")
def say() -> Callable[[str], tuple[Samples, int]]:
    return espeak


@pytest.fixture(scope="package")
def say_naturally() -> Callable[[str], tuple[Samples, int]]:
    """A caller with a natural voice (Piper's "vincent"): for tests whose point is what happens
    after the words are recognised, espeak's robotic "order" is sometimes heard as "on a"."""
    from opencharacters.engine_settings import EngineSettings
    from opencharacters.speech.engines import load_synthesizer

    synthesizer = load_synthesizer(EngineSettings())

    def speak(text: str) -> tuple[Samples, int]:
        return synthesizer.synthesize_text(text, "vincent"), synthesizer.sample_rate

    return speak


def wait_status(api: httpx.Client, session_id: str, wanted: set[str], timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        session = api.get(f"/v1/realtime_sessions/{session_id}").json()
        if session["status"] in wanted:
            return session
        time.sleep(0.1)
    raise AssertionError(f"session never reached {wanted}: {session}")


def conversation(api: httpx.Client, session_id: str) -> Any:
    response = api.get(f"/v1/avatar_conversations/{session_id}")
    assert response.status_code == 200, response.text
    return response.json()


# ----- the LiveKit transport: one livekit-server and one server using it, for the package -----

LIVEKIT_CONNECT_TIMEOUT_S = 8


@pytest.fixture(scope="package")
def livekit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveKitServer]:
    binary()  # skips (fails in CI) before anything starts when it was not built
    server = LiveKitServer(tmp_path_factory.mktemp("livekit")).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def lk_server(livekit: LiveKitServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("live-livekit"),
        None,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
        OPENCHARACTERS_SESSION_CAPACITY="3",
        OPENCHARACTERS_CONNECT_TIMEOUT_S=str(LIVEKIT_CONNECT_TIMEOUT_S),
        **livekit.server_env(),
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def lk_api(lk_server: Server) -> Iterator[httpx.Client]:
    with api_client(lk_server) as client:
        yield client


@pytest.fixture(scope="package")
def lk_avatar(lk_api: httpx.Client) -> str:
    return create_avatar(lk_api)


def ready_session(api: httpx.Client, avatar_id: str, **fields: Any) -> tuple[str, str]:
    body = {
        "model": "gwm1_avatars",
        "avatar": {"type": "custom", "avatarId": avatar_id},
        **fields,
    }
    response = api.post("/v1/realtime_sessions", json=body)
    assert response.status_code == 200, response.text
    session_id = str(response.json()["id"])
    session = wait_status(api, session_id, {"READY"})
    return session_id, str(session["sessionKey"])


def consume(api: httpx.Client, session_id: str, key: str) -> httpx.Response:
    return httpx.post(
        f"{api.base_url}/v1/realtime_sessions/{session_id}/consume",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


async def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The test's HTTP calls leave the loop free for the caller's media."""
    return await asyncio.to_thread(function, *args, **kwargs)
