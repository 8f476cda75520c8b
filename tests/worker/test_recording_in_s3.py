"""A real call on a server whose blobs live in S3 (versitygw): the media worker uploads the
recording to the bucket, and the conversation hands it out as a presigned URL."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import httpx
import pytest

from opencharacters.client.call import Caller
from tests.engine.live.conftest import HEADERS, conversation, create_avatar
from tests.support.s3 import S3Server
from tests.support.server import API_KEY, Server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def test_a_calls_recording_lands_in_the_bucket(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.create_bucket()
    server = Server(
        tmp_path / "server", None, OPENCHARACTERS_SESSION_CAPACITY="1", **s3.env(bucket)
    ).start()
    try:
        with httpx.Client(base_url=server.base_url, headers=HEADERS, timeout=30) as api:
            avatar_id = await asyncio.to_thread(create_avatar, api)
            async with Caller(server.base_url, API_KEY, avatar_id) as call:
                session_id = str(call.session_id)
                await call.wait_for_state("speaking", 120)
                await call.wait_until_listening(30)
            deadline = time.monotonic() + 30
            record = await asyncio.to_thread(conversation, api, session_id)
            while not record["recordingUrl"] and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                record = await asyncio.to_thread(conversation, api, session_id)
        url = record["recordingUrl"]
        assert url, record
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
        # Nothing of it stays on the server's disk.
        leftovers = [p for p in (server.data_dir).rglob(f"{session_id}*") if p.is_file()]
        assert leftovers == []
    finally:
        server.stop()
