"""Media workers as real processes: the API alone (`serve --media-workers 0`) and workers
started separately with the same database and data directory, on SQLite and PostgreSQL.

A call through the public flow runs in a worker; `kill -9` of that worker mid-answer leaves the
session FAILED (WORKER_LOST) with its transcript, its partial recording served and its duration
the time it really ran; a new worker serves new calls; DELETE on the API ends the call in the
worker at once; two one-slot workers take one call each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import httpx
import pytest
from sqlalchemy import create_engine, text

from opencharacters.client.call import Caller
from opencharacters.store.db import normalize_url
from tests.engine.live.conftest import conversation, create_avatar, espeak, wait_status
from tests.support.http import api as api_client
from tests.support.server import API_KEY, MediaWorker, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def api_server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(
        tmp_path_factory.mktemp("api-alone"),
        database_url,
        media_workers=0,
        OPENCHARACTERS_PRELOAD_ENGINES="true",
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(api_server: Server) -> Iterator[httpx.Client]:
    with api_client(api_server) as client:
        yield client


@pytest.fixture(scope="module")
def avatar_id(api: httpx.Client) -> str:
    return create_avatar(api)


@pytest.fixture
def workers(api_server: Server) -> Iterator[list[MediaWorker]]:
    started: list[MediaWorker] = []
    yield started
    for worker in started:
        worker.stop()


def start_worker(server: Server, started: list[MediaWorker], name: str) -> MediaWorker:
    worker = MediaWorker(server, slots=1, name=name).start()
    started.append(worker)
    return worker


def holder(server: Server, session_id: str) -> str | None:
    """The worker the database says holds the session."""
    url = server.database_url or f"sqlite:///{server.data_dir / 'opencharacters.db'}"
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            value = connection.execute(
                text("SELECT worker_id FROM realtime_sessions WHERE id = :id"), {"id": session_id}
            ).scalar()
            return None if value is None else str(value)
    finally:
        engine.dispose()


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


async def peer_closed(call: Caller, timeout_s: float) -> float:
    """Seconds until the caller sees the server end the call (data channel or peer closed)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        peer = call.peer
        if (call.channel is not None and call.channel.readyState == "closed") or (
            peer is not None and peer.connectionState in ("closed", "failed")
        ):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"the caller did not see the call end within {timeout_s} s")


@pytest.mark.one_database
async def test_a_separate_worker_serves_a_call_and_its_crash_keeps_the_record(
    api_server: Server,
    api: httpx.Client,
    avatar_id: str,
    workers: list[MediaWorker],
    tmp_path: Path,
) -> None:
    worker = start_worker(api_server, workers, "crashing")
    question = espeak("What is your name?")
    call = Caller(api_server.base_url, API_KEY, avatar_id)
    await call.start()
    try:
        session_id = str(call.session_id)
        assert holder(api_server, session_id) == worker.worker_id
        await call.wait_for_state("speaking", 90)
        await call.wait_until_listening(30)
        answering = asyncio.ensure_future(call.wait_for_state("speaking", 90))
        call.say(*question)
        deadline = time.monotonic() + 45  # recognition is slow on a busy 2-core box
        while not any(
            entry["role"] == "user"
            for entry in (await asyncio.to_thread(conversation, api, session_id))["transcript"]
        ):
            assert time.monotonic() < deadline, "the caller's words were not stored as said"
            await asyncio.sleep(0.2)
        await answering
        await asyncio.sleep(1.0)  # mid-answer
        killed_at = time.time()
        worker.kill()
        lost_after = time.monotonic()
        session = await asyncio.to_thread(wait_status, api, session_id, {"FAILED"}, 15)
        assert time.monotonic() - lost_after <= 15
        assert session["failureCode"] == "WORKER_LOST", session
    finally:
        await call.hang_up()

    deadline = time.monotonic() + 15
    record = await asyncio.to_thread(conversation, api, session_id)
    while not record["recordingUrl"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        record = await asyncio.to_thread(conversation, api, session_id)
    assert record["status"] == "failed" and record["failureCode"] == "WORKER_LOST"
    transcript = record["transcript"]
    assert transcript[0] == {**transcript[0], "role": "assistant", "content": "Hi, I'm Ada."}
    assert transcript[1]["role"] == "user" and "name" in transcript[1]["content"].lower()
    # The answer (being spoken, or just finished: it may be short) is on record as heard.
    answer = transcript[2]
    assert answer["role"] == "assistant" and answer["content"], transcript
    truth = killed_at - parse_time(record["startedAt"])
    assert abs(record["duration"] - truth) <= 1.0, (record["duration"], truth)
    assert parse_time(record["endedAt"]) <= killed_at + 0.1

    # The recording up to the crash (written as fragments as the call went) is served.
    assert record["recordingUrl"], "the partial recording was recovered"
    path = tmp_path / "partial.mp4"
    served = await asyncio.to_thread(httpx.get, record["recordingUrl"], timeout=30)
    path.write_bytes(served.content)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.duration is not None
        seconds = container.duration / 1_000_000
    # The recording's clock starts at the offer, the duration when the peer connected; the
    # last second or so before the kill (the fragment being written, x264's look-ahead) is lost.
    assert truth - 3.5 <= seconds <= truth + 1.5, (seconds, truth)
    leftovers = list((api_server.data_dir / "recordings-in-progress").glob(f"{session_id}*"))
    assert leftovers == [], "no partial file stays orphaned"

    # The dead worker's lease is gone for good; a new worker serves new calls.
    replacement = start_worker(api_server, workers, "replacement")
    async with Caller(api_server.base_url, API_KEY, avatar_id) as next_call:
        assert holder(api_server, str(next_call.session_id)) == replacement.worker_id
        await next_call.wait_for_state("speaking", 90)
    assert (await asyncio.to_thread(api.get, f"/v1/realtime_sessions/{session_id}")).json()[
        "status"
    ] == "FAILED"


@pytest.mark.one_database
async def test_delete_on_the_api_ends_the_call_in_its_worker_at_once(
    api_server: Server, api: httpx.Client, avatar_id: str, workers: list[MediaWorker]
) -> None:
    start_worker(api_server, workers, "cancelled")
    call = Caller(api_server.base_url, API_KEY, avatar_id)
    await call.start()
    try:
        session_id = str(call.session_id)
        await call.wait_for_state("speaking", 90)
        await call.wait_until_listening(30)
        started = time.monotonic()
        response = await asyncio.to_thread(api.delete, f"/v1/realtime_sessions/{session_id}")
        assert response.status_code == 204
        await peer_closed(call, 5.0)
        assert time.monotonic() - started <= 2.0, time.monotonic() - started
    finally:
        await call.hang_up()
    session = wait_status(api, session_id, {"CANCELLED"}, 5)
    assert session["status"] == "CANCELLED"
    assert [e["content"] for e in conversation(api, session_id)["transcript"]] == ["Hi, I'm Ada."]


async def test_two_one_slot_workers_take_one_call_each(
    api_server: Server, api: httpx.Client, workers: list[MediaWorker]
) -> None:
    one = start_worker(api_server, workers, "one")
    two = start_worker(api_server, workers, "two")
    first = create_avatar(api, name="Bo", startScript="Bo here, hello from the bakery.")
    second = create_avatar(api, name="Cy", startScript="Cy speaking, welcome to the garage.")
    async with (
        Caller(api_server.base_url, API_KEY, first) as bo,
        Caller(api_server.base_url, API_KEY, second) as cy,
    ):
        holders = {holder(api_server, str(bo.session_id)), holder(api_server, str(cy.session_id))}
        assert holders == {one.worker_id, two.worker_id}
        await asyncio.gather(
            bo.wait_for_state("speaking", 90, seen_ok=True),
            cy.wait_for_state("speaking", 90, seen_ok=True),
        )
        await asyncio.gather(bo.wait_until_listening(30), cy.wait_until_listening(30))
        assert bo.received.transcript("assistant") == {1: "Bo here, hello from the bakery."}
        assert cy.received.transcript("assistant") == {1: "Cy speaking, welcome to the garage."}
        # Both slots are taken: a third session waits, queued.
        body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": first}}
        created = await asyncio.to_thread(api.post, "/v1/realtime_sessions", json=body)
        third = created.json()["id"]
        await asyncio.to_thread(queued, api, third)
    ready = await asyncio.to_thread(wait_status, api, third, {"READY"}, 15)
    assert ready["sessionKey"]
    await asyncio.to_thread(api.delete, f"/v1/realtime_sessions/{third}")
    # Each worker read its session's persona when it claimed it, before the caller came.
    for worker in (one, two):
        assert await asyncio.to_thread(personas_read, worker, "session_claimed") >= 1


def personas_read(worker: MediaWorker, trigger: str, figure: str = "count") -> float:
    """From the worker's /metrics, by trigger: how many personas were read ahead of a call
    (`count`), or the seconds they took (`sum`)."""
    scraped = httpx.get(f"{worker.address}/metrics").text
    prefix = f'opencharacters_persona_read_ahead_seconds_{figure}{{trigger="{trigger}"}}'
    values = [float(line.split()[-1]) for line in scraped.splitlines() if line.startswith(prefix)]
    return values[0] if values else 0.0


@pytest.mark.one_database
async def test_an_idle_worker_reads_a_saved_avatars_persona_before_its_first_call(
    api_server: Server, api: httpx.Client, workers: list[MediaWorker]
) -> None:
    worker = start_worker(api_server, workers, "idle")
    personality = "You are Dot, the night porter of the Harbor Hotel. " + " ".join(
        f"Room {i} has a sea view." for i in range(1, 30)
    )
    avatar = create_avatar(api, name="Dot", personality=personality, startScript="Dot here.")
    deadline = time.monotonic() + 90
    while await asyncio.to_thread(personas_read, worker, "avatar_saved") < 1:
        assert time.monotonic() < deadline, worker.log()[-3000:]
        await asyncio.sleep(0.5)
    # Its first call finds the persona read: the claim reads nothing more.
    async with Caller(api_server.base_url, API_KEY, avatar) as call:
        await call.wait_for_state("speaking", 60, seen_ok=True)
    assert await asyncio.to_thread(personas_read, worker, "session_claimed") >= 1
    assert await asyncio.to_thread(personas_read, worker, "session_claimed", "sum") < 0.5


def queued(api: httpx.Client, session_id: str) -> None:
    deadline = time.monotonic() + 10
    while api.get(f"/v1/realtime_sessions/{session_id}").json().get("queued") is not True:
        assert time.monotonic() < deadline, "the session was not queued"
        time.sleep(0.1)


@pytest.mark.one_database
def test_a_workers_endpoint_answers_only_the_deployment(
    api_server: Server, workers: list[MediaWorker]
) -> None:
    from opencharacters.engine.live.admission import INTERNAL_HEADER, internal_token

    worker = start_worker(api_server, workers, "guarded")
    url = api_server.database_url or f"sqlite:///{api_server.data_dir / 'opencharacters.db'}"
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as connection:
            address = connection.execute(
                text("SELECT address FROM media_workers WHERE id = :id"), {"id": worker.worker_id}
            ).scalar()
    finally:
        engine.dispose()
    assert address and address.startswith("http://127.0.0.1:")
    secret = (api_server.data_dir / "secret.key").read_text().strip().encode()
    for headers in ({}, {INTERNAL_HEADER: "guess"}):
        refused = httpx.get(f"{address}/internal/v1/worker", headers=headers)
        assert refused.status_code == 401 and "internal token" in refused.json()["error"]
    answer = httpx.get(
        f"{address}/internal/v1/worker", headers={INTERNAL_HEADER: internal_token(secret)}
    )
    assert answer.status_code == 200
    assert answer.json() == {"id": worker.worker_id, "slots": 1, "calls": []}
