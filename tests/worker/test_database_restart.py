"""PostgreSQL restarted in the middle of a call, with real processes: an API node
(`serve --media-workers 0`) and a media worker on a PostgreSQL server of the test's own.

While the database is down the call goes on (the avatar's video keeps coming, it finishes its
greeting and hears the caller), the API answers 503 with a clear error, and the transcript
entries of that time wait in the worker's buffer; once the database is back they are stored,
the worker is not declared lost for its silence, and the call ends normally."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from opencharacters.client.call import Caller
from opencharacters.store.db import Database
from tests.engine.live.conftest import conversation, create_avatar, espeak
from tests.support.http import api
from tests.support.postgres_cluster import PrivatePostgres, available
from tests.support.server import API_KEY, MediaWorker, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.postgres]

GREETING = (
    "Hello, I am Ada. I fly to the stars and back again, and I love to talk about the planets."
)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL's server binaries (initdb, pg_ctl) are needed in CI")
        pytest.skip("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    server = PrivatePostgres().init()
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def node(
    postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, MediaWorker]]:
    database = Database(postgres.url)
    database.migrate()  # once, before two processes start on it
    database.dispose()
    server = Server(tmp_path_factory.mktemp("pg-restart"), postgres.url, media_workers=0)
    worker = MediaWorker(server, slots=1, OPENCHARACTERS_PRELOAD_ENGINES="true")
    starting = threading.Thread(target=worker.start)
    starting.start()
    server.start()
    starting.join()
    assert worker.process is not None, worker.log()
    yield server, worker
    worker.stop()
    server.stop()


async def test_a_call_survives_a_database_restart_and_keeps_its_transcript(
    postgres: PrivatePostgres, node: tuple[Server, MediaWorker]
) -> None:
    server, worker = node
    with api(server) as http:
        avatar_id = create_avatar(http, startScript=GREETING)
    question = espeak("What is your name?")
    call = Caller(server.base_url, API_KEY, avatar_id)
    await call.start()
    try:
        session_id = str(call.session_id)
        await call.wait_for_state("speaking", 60)
        postgres.stop()
        down_at = time.monotonic()
        frames_at_stop = len(call.received.video_times)
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {API_KEY}", "X-Runway-Version": "2024-11-06"},
        ) as http_async:
            refused = await http_async.get(f"/v1/realtime_sessions/{session_id}")
            ready = await http_async.get("/readyz")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"].startswith("database unavailable")
        assert refused.headers["Retry-After"]
        assert ready.status_code == 503
        # The greeting ends, the caller speaks and is heard, all with the database down.
        await call.wait_until_listening(30)
        call.say(*question)
        await call.wait_for(
            lambda m: m.get("type") == "transcription" and m.get("role") == "user",
            25,
            what="the caller's words, heard while the database was down,",
        )
        heard = " ".join(call.received.transcript("user").values())
        assert heard, "the caller was not heard while the database was down"
        outage_s = time.monotonic() - down_at
        frames_in_outage = len(call.received.video_times) - frames_at_stop
        postgres.start()
        assert frames_in_outage >= 10 * outage_s, (frames_in_outage, outage_s)

        with api(server) as http:
            # Buffered entries reach the database once it is back.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                response = http.get(f"/v1/avatar_conversations/{session_id}")
                if response.status_code == 200 and any(
                    entry["role"] == "user" for entry in response.json()["transcript"]
                ):
                    break
                await asyncio.sleep(0.2)
            await call.hang_up()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                session = http.get(f"/v1/realtime_sessions/{session_id}").json()
                if session["status"] not in ("READY", "RUNNING"):
                    break
                await asyncio.sleep(0.2)
            assert session["status"] == "COMPLETED", session
            transcript = conversation(http, session_id)["transcript"]
    finally:
        await call.hang_up()
    greeting = next(entry for entry in transcript if entry["role"] == "assistant")
    assert greeting["content"].startswith("Hello, I am Ada.")
    assert "planets" in greeting["content"]  # its last words were heard during the outage
    user = [entry for entry in transcript if entry["role"] == "user"]
    assert user and "name" in user[0]["content"].lower(), transcript
    log = worker.log()
    assert "transcript writes are buffered" in log
    assert "media worker was lost" not in server.log()
