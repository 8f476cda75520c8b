"""Real calls on a server whose blobs live in S3 (versitygw): the media worker uploads the
recording to the bucket, the conversation hands it out as a presigned URL, and a recording
the bucket refuses at the call's end (server down) is stored once it is back."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from sqlalchemy import create_engine, text

from opencharacters.client.call import Caller
from tests.engine.live.conftest import conversation, create_avatar, wait_status
from tests.support.http import api as api_client
from tests.support.s3 import S3Server
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def bucket(s3: S3Server) -> str:
    return s3.create_bucket()


@pytest.fixture(scope="module")
def server(s3: S3Server, bucket: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(
        tmp_path_factory.mktemp("server"),
        None,
        OPENCHARACTERS_SESSION_CAPACITY="1",
        OPENCHARACTERS_LOG_FORMAT="json",
        **s3.env(bucket),
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with api_client(server) as client:
        yield client


@pytest.fixture(scope="module")
def avatar_id(api: httpx.Client) -> str:
    return create_avatar(api)


async def short_call(server: Server, avatar_id: str) -> str:
    """A call that hears the greeting and hangs up; returns its session id."""
    async with Caller(server.base_url, API_KEY, avatar_id) as call:
        await call.wait_for_state("speaking", 120)
        await call.wait_until_listening(30)
        return str(call.session_id)


async def recording_url(api: httpx.Client, session_id: str, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    record = await asyncio.to_thread(conversation, api, session_id)
    while not record["recordingUrl"] and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        record = await asyncio.to_thread(conversation, api, session_id)
    return record["recordingUrl"]


async def check_served_mp4(url: str, s3: S3Server, bucket: str, tmp_path: Path) -> None:
    assert url.startswith(f"{s3.endpoint_url}/{bucket}/recordings/"), url
    assert "X-Amz-Signature=" in url
    served = await asyncio.to_thread(httpx.get, url, timeout=30)
    assert served.status_code == 200
    assert served.headers["content-type"] == "video/mp4"
    path = tmp_path / "call.mp4"
    path.write_bytes(served.content)
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"


async def test_a_calls_recording_lands_in_the_bucket(
    s3: S3Server, bucket: str, server: Server, api: httpx.Client, avatar_id: str, tmp_path: Path
) -> None:
    session_id = await short_call(server, avatar_id)
    url = await recording_url(api, session_id, 30)
    assert url
    await check_served_mp4(url, s3, bucket, tmp_path)
    # Nothing of it stays on the server's disk.
    assert [p for p in server.data_dir.rglob(f"{session_id}*") if p.is_file()] == []


def test_the_worker_reports_its_calls_and_readiness(server: Server) -> None:
    """After the call above: the supervised worker's /metrics and /readyz, on its own port."""
    engine = create_engine(f"sqlite:///{server.data_dir / 'opencharacters.db'}")
    try:
        with engine.connect() as connection:
            address = connection.execute(
                text("SELECT address FROM media_workers WHERE stopped_at IS NULL")
            ).scalar_one()
    finally:
        engine.dispose()
    assert httpx.get(f"{address}/readyz").json() == {"status": "ready", "calls": 0}
    scraped = httpx.get(f"{address}/metrics").text
    assert 'opencharacters_calls_ended_total{code="",outcome="COMPLETED"} 1.0' in scraped, scraped
    fps = [
        line
        for line in scraped.splitlines()
        if line.startswith("opencharacters_call_video_fps_sum")
    ]
    assert fps and 5 < float(fps[0].split()[-1]) <= 30, scraped
    assert "opencharacters_worker_calls 0.0" in scraped
    # Everything else there still needs the deployment's internal token.
    assert httpx.get(f"{address}/internal/v1/worker").status_code == 401


async def test_a_recording_the_bucket_refused_is_stored_when_it_returns(
    s3: S3Server, bucket: str, server: Server, api: httpx.Client, avatar_id: str, tmp_path: Path
) -> None:
    async with Caller(server.base_url, API_KEY, avatar_id) as call:
        session_id = str(call.session_id)
        await call.wait_for_state("speaking", 120)
        s3.stop()  # the bucket is gone when the call ends
    try:
        session = await asyncio.to_thread(wait_status, api, session_id, {"COMPLETED"}, 60)
        assert session["status"] == "COMPLETED"  # the call's end does not wait on the store
        kept = server.data_dir / "recordings-pending" / f"{session_id}.mp4"
        deadline = time.monotonic() + 30
        while not kept.is_file():
            assert time.monotonic() < deadline, "the refused recording was not kept"
            await asyncio.sleep(0.2)
        assert (await asyncio.to_thread(conversation, api, session_id))["recordingUrl"] is None
    finally:
        s3.start()
    url = await recording_url(api, session_id, 90)
    assert url, "the kept recording was not stored after the bucket came back"
    await check_served_mp4(url, s3, bucket, tmp_path)
    assert not kept.exists()
    # The worker said so in JSON lines that name the session.
    records = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    about = [record for record in records if record.get("session_id") == session_id]
    assert any("refused the recording" in record["message"] for record in about), records[-20:]
