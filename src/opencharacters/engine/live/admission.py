"""Who may connect to a session's call: the checks the API and the worker both apply.

The API answers a WHIP offer for a session no live worker holds with the same errors the worker
would give, so a client sees one behaviour whichever process answers."""

from __future__ import annotations

import hashlib
import hmac

from opencharacters.domain.errors import BadRequest, Conflict, Unauthorized
from opencharacters.domain.session_states import SessionStatus
from opencharacters.store.tables import RealtimeSession

MAX_OFFER_BYTES = 64 * 1024
INTERNAL_HEADER = "X-OpenCharacters-Internal"
"""Carries the internal token on requests between API processes and media workers."""


def internal_token(secret_key: bytes) -> str:
    """The shared credential of API processes and workers, derived from the URL-signing key (the
    data directory's secret.key or OPENCHARACTERS_SECRET_KEY): every process of one deployment
    has it, a caller does not."""
    return hmac.new(
        secret_key, b"opencharacters media-worker control v1", hashlib.sha256
    ).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_offer_text(sdp: str) -> None:
    if len(sdp.encode()) > MAX_OFFER_BYTES:
        raise BadRequest(f"body: the SDP offer is over {MAX_OFFER_BYTES} bytes")
    if "m=" not in sdp or not sdp.lstrip().startswith("v=0"):
        raise BadRequest("body: not an SDP offer (it must start with v=0 and hold m= lines)")


def check_media_token(session: RealtimeSession, token: str) -> None:
    """Raises unless `token` is the session's media token and the session may connect. The
    token first: a wrong one learns nothing about the session's state."""
    expected = session.connect_token or ""
    if not expected or not same(expected, token):
        raise Unauthorized("Invalid media token for this session: send the token consume returned.")
    if session.status != SessionStatus.READY:
        raise Conflict(f"The session is {session.status}; only a READY session connects.")
