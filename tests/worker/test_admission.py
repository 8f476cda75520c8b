"""Who may connect, and the worker's errors relayed by the API as the same errors."""

from __future__ import annotations

import pytest

from opencharacters.domain.errors import BadRequest, Conflict, Unauthorized
from opencharacters.engine.live.admission import (
    MAX_OFFER_BYTES,
    check_media_token,
    check_offer_text,
    internal_token,
)
from opencharacters.http_errors import HttpError
from opencharacters.store.tables import RealtimeSession
from opencharacters.worker.gateway import _relayed

pytestmark = pytest.mark.unit


def session(status: str, token: str | None) -> RealtimeSession:
    return RealtimeSession(id="s", status=status, connect_token=token)


def test_only_the_consumed_token_of_a_ready_session_connects() -> None:
    check_media_token(session("READY", "t0k"), "t0k")
    with pytest.raises(Unauthorized):
        check_media_token(session("READY", "t0k"), "guess")
    with pytest.raises(Conflict, match="RUNNING"):
        check_media_token(session("RUNNING", "t0k"), "t0k")
    # The token first: a wrong one learns nothing about the session's state.
    for status in ("READY", "COMPLETED"):
        with pytest.raises(Unauthorized):
            check_media_token(session(status, None), "anything")
        with pytest.raises(Unauthorized):
            check_media_token(session(status, "t0k"), "guess")


def test_offers_are_checked_for_size_and_shape() -> None:
    check_offer_text("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")
    with pytest.raises(BadRequest, match="not an SDP offer"):
        check_offer_text("hello")
    with pytest.raises(BadRequest, match=str(MAX_OFFER_BYTES)):
        check_offer_text("v=0\nm=" + "x" * MAX_OFFER_BYTES)


def test_the_internal_token_is_derived_from_the_secret_and_hides_it() -> None:
    token = internal_token(b"secret-one")
    assert token == internal_token(b"secret-one") != internal_token(b"secret-two")
    assert "secret" not in token and len(token) == 64


def test_worker_errors_are_relayed_as_the_same_errors() -> None:
    conflict = _relayed(409, '{"error": "This session is already connected."}')
    assert isinstance(conflict, Conflict) and conflict.message.startswith("This session")
    odd = _relayed(502, "<html>bad gateway</html>")
    assert isinstance(odd, HttpError) and odd.status == 502
    assert odd.message == "<html>bad gateway</html>"
