"""Conversations: lists with filters, transcripts, signed recordings with range support."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import runwayml
from runwayml import RunwayML

from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.db import Database
from opencharacters.store.sessions import set_status
from opencharacters.store.tables import Conversation, RealtimeSession, TranscriptEntry
from tests.support.http import api, error_of, ready_avatar, wait_for
from tests.support.server import Server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database(server: Server) -> Any:
    db = Database(server.database_url or "")
    yield db
    db.dispose()


def new_session(http: httpx.Client, avatar_id: str) -> str:
    body = {"model": "gwm1_avatars", "avatar": {"type": "custom", "avatarId": avatar_id}}
    session_id = str(http.post("/v1/realtime_sessions", json=body).json()["id"])
    wait_for(
        lambda: http.get(f"/v1/realtime_sessions/{session_id}").json(),
        lambda s: s["status"] == "READY",
    )
    return session_id


def finish_call(
    database: Database, server: Server, session_id: str, recording: bytes | None
) -> None:
    """What the session worker does during and after a call, through the same store layer."""
    with database.session() as db:
        session = db.get(RealtimeSession, session_id)
        assert session is not None
        start = utcnow() - timedelta(seconds=42)
        set_status(db, session, SessionStatus.RUNNING, now=start)
        db.add_all(
            [
                TranscriptEntry(
                    conversation_id=session_id,
                    seq=0,
                    role="assistant",
                    content="Hello! How can I help?",
                    timestamp=start,
                ),
                TranscriptEntry(
                    conversation_id=session_id,
                    seq=1,
                    role="user",
                    content="Where is my order?",
                    timestamp=start + timedelta(seconds=3),
                ),
                TranscriptEntry(
                    conversation_id=session_id,
                    seq=2,
                    role="assistant",
                    content=None,
                    timestamp=start + timedelta(seconds=5),
                    tool_calls=[
                        {"id": "call_1", "name": "check_order", "arguments": {"order_id": "A1"}}
                    ],
                    tool_results=[
                        {
                            "id": "call_1",
                            "name": "check_order",
                            "result": {"status": "shipped"},
                            "error": None,
                            "durationMs": 230,
                        }
                    ],
                ),
                TranscriptEntry(
                    conversation_id=session_id,
                    seq=3,
                    role="assistant",
                    content="It shipped and arrives",
                    timestamp=start + timedelta(seconds=6),
                    interrupted=True,
                ),
            ]
        )
        conversation = db.get(Conversation, session_id)
        assert conversation is not None
        if recording is not None:
            key = f"recordings/{session_id}.mp4"
            (server.data_dir / "blobs" / "recordings").mkdir(parents=True, exist_ok=True)
            (server.data_dir / "blobs" / key).write_bytes(recording)
            conversation.recording_blob = key
        set_status(db, session, SessionStatus.COMPLETED, now=start + timedelta(seconds=42))


def test_transcript_and_recording(client: RunwayML, server: Server, database: Database) -> None:
    recording = bytes(range(256)) * 64
    with api(server) as http:
        avatar = ready_avatar(http)
        session_id = new_session(http, avatar["id"])
    finish_call(database, server, session_id, recording)

    session = client.realtime_sessions.retrieve(session_id)
    assert session.status == "COMPLETED" and session.duration == 42
    conversation = client.avatar_conversations.retrieve(session_id)
    assert conversation.status == "ended" and conversation.duration == 42
    assert conversation.started_at and conversation.ended_at
    assert [(e.role, e.content) for e in conversation.transcript] == [
        ("assistant", "Hello! How can I help?"),
        ("user", "Where is my order?"),
        ("assistant", None),
        ("assistant", "It shipped and arrives"),
    ]
    tool_entry = conversation.transcript[2]
    assert tool_entry.tool_calls[0].arguments == {"order_id": "A1"}
    assert tool_entry.tool_results[0].duration_ms == 230
    with api(server) as http:
        raw = http.get(f"/v1/avatar_conversations/{session_id}").json()
    assert raw["transcript"][3]["interrupted"] is True
    assert "toolCalls" not in raw["transcript"][1]

    url = conversation.recording_url
    assert url and url.startswith(server.base_url)
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == recording
    assert whole.headers["content-type"] == "video/mp4"
    cross_origin = httpx.get(url, headers={"Origin": "https://app.example"})
    assert cross_origin.headers["access-control-allow-origin"] == "*"
    assert "Content-Range" in cross_origin.headers["access-control-expose-headers"]
    part = httpx.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == recording[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(recording)}"
    tampered = url.replace("signature=", "signature=0")
    assert httpx.get(tampered).status_code == 403
    expired = httpx.get(url.split("?")[0], params={"expires": "1", "signature": "0" * 64})
    assert expired.status_code == 403 and "expired" in error_of(expired)

    # The per-avatar paths Runway documents serve the same shapes.
    with api(server) as http:
        same = http.get(f"/v1/avatars/{avatar['id']}/conversations/{session_id}").json()
        assert same["transcript"] == raw["transcript"]
        listed = http.get(f"/v1/avatars/{avatar['id']}/conversations").json()
        assert [c["id"] for c in listed["data"]] == [session_id]
        other = ready_avatar(http, name="Other")
        assert http.get(f"/v1/avatars/{other['id']}/conversations/{session_id}").status_code == 404

    client.avatar_conversations.delete(session_id)
    with pytest.raises(runwayml.NotFoundError):
        client.avatar_conversations.retrieve(session_id)
    assert httpx.get(url).status_code == 404
    assert client.realtime_sessions.retrieve(session_id).status == "COMPLETED"


def test_in_progress_conversations_cannot_be_deleted(server: Server) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        session_id = new_session(http, avatar["id"])
        refused = http.delete(f"/v1/avatar_conversations/{session_id}")
        assert refused.status_code == 409
        assert "in progress" in error_of(refused)
        detail = http.get(f"/v1/avatar_conversations/{session_id}").json()
        assert detail["status"] == "in_progress" and "endedAt" not in detail
        assert detail["recordingUrl"] is None


def test_list_filters_and_pages(client: RunwayML, server: Server) -> None:
    with api(server) as http:
        first = ready_avatar(http, name="First")
        second = ready_avatar(http, name="Second")
        mine = [new_session(http, first["id"]) for _ in range(3)]
        theirs = new_session(http, second["id"])
        page = http.get(
            "/v1/avatar_conversations", params={"avatar": first["id"], "limit": 2}
        ).json()
        assert len(page["data"]) == 2 and page["hasMore"]
        assert {c["avatar"]["name"] for c in page["data"]} == {"First"}
        assert set(page["data"][0]) == {
            "id",
            "name",
            "status",
            "avatar",
            "createdAt",
            "duration",
            "hasTools",
        }
        assert http.get("/v1/avatar_conversations").json()["data"].__len__() <= 20
        bad = http.get("/v1/avatar_conversations", params={"avatar": "nope"})
        assert bad.status_code == 400 and "avatar" in error_of(bad)
        bad = http.get("/v1/avatar_conversations", params={"startDate": "soon"})
        assert bad.status_code == 400 and "startDate" in error_of(bad)
    listed = [c.id for c in client.avatar_conversations.list(limit=2, avatar=first["id"])]
    assert sorted(listed) == sorted(mine)
    now = utcnow()
    future = [
        c.id
        for c in client.avatar_conversations.list(limit=100, start_date=now + timedelta(minutes=1))
    ]
    assert future == []
    window = [
        c.id
        for c in client.avatar_conversations.list(
            limit=100,
            start_date=(now - timedelta(minutes=5)).replace(tzinfo=None),
            end_date=now + timedelta(minutes=1),
        )
    ]
    assert set(mine) | {theirs} <= set(window)
    with api(server) as http:
        assert (
            http.get("/v1/avatars/7d1c9a2e-7b4d-4e8a-9c1f-2a3b4c5d6e7f/conversations").status_code
            == 404
        )


def test_usage_reflects_sessions(client: RunwayML, server: Server, database: Database) -> None:
    with api(server) as http:
        avatar = ready_avatar(http)
        session_id = new_session(http, avatar["id"])
    finish_call(database, server, session_id, None)
    today = utcnow().date()
    usage = client.avatars.get_usage(start_date=str(today), end_date=str(today + timedelta(days=1)))
    assert usage.total_sessions >= 1
    assert usage.total_seconds >= 42
    assert usage.by_day[0].sessions == usage.total_sessions
