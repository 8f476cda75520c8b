"""The data channel: Runway's messages to the caller, our richer events, END_CALL from them.

Runway's clients (runway-api.md §5) read `transcription` deltas and `client_event` messages and
ignore any other `type`, so our own events use `opencharacters.*` types. The caller may send
only `{"type":"END_CALL"}`; anything else is logged (a few times) and ignored."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

MAX_INBOUND_BYTES = 64 * 1024
_LOGGED_GARBAGE = 5
_MAX_PENDING = 200

EVENT_STATE = "opencharacters.state"
EVENT_INTERRUPTED = "opencharacters.interrupted"
EVENT_ERROR = "opencharacters.error"
EVENT_ENDED = "opencharacters.ended"
EVENT_TURN = "opencharacters.turn"
EVENT_CLOCK = "opencharacters.clock"
EVENT_TOOL = "opencharacters.tool"


def transcription(role: str, turn: int, text: str) -> dict[str, Any]:
    return {"type": "transcription", "role": role, "turn": turn, "text": text}


def client_event(tool: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"type": "client_event", "tool": tool, "args": args}


class CallChannel:
    """Wraps the first RTCDataChannel the caller opened; sends wait until it is open."""

    def __init__(self, session_id: str, on_end_call: Callable[[], None]) -> None:
        self._session_id = session_id
        self._on_end_call = on_end_call
        self._channel: Any = None
        self._garbage = 0
        self._pending: list[dict[str, Any]] = []

    def attach(self, channel: Any) -> None:
        if self._channel is not None:
            return  # the first channel the caller opened carries the call's messages
        self._channel = channel
        channel.on("message", self._receive)
        channel.on("open", self._flush)
        if channel.readyState == "open":
            self._flush()

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for message in pending:
            self.send(message)

    def send(self, message: dict[str, Any]) -> None:
        """Sends now, or once the caller's channel opens (what is said before is kept)."""
        channel = self._channel
        if channel is None or channel.readyState != "open":
            if len(self._pending) < _MAX_PENDING:
                self._pending.append(message)
            return
        try:
            channel.send(json.dumps(message, separators=(",", ":")))
        except Exception:  # a closing transport: the call is ending anyway
            log.debug("session %s: data channel send failed", self._session_id, exc_info=True)

    def _receive(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            if len(raw) > MAX_INBOUND_BYTES:
                self._garbage_seen("an oversized message")
                return
            try:
                raw = raw.decode()
            except UnicodeDecodeError:
                self._garbage_seen("bytes that are not UTF-8")
                return
        if len(raw) > MAX_INBOUND_BYTES:
            self._garbage_seen("an oversized message")
            return
        try:
            message = json.loads(raw)
        except ValueError:
            self._garbage_seen("text that is not JSON")
            return
        if not isinstance(message, dict):
            self._garbage_seen("JSON that is not an object")
            return
        if message.get("type") == "END_CALL":
            self._on_end_call()
        else:
            self._garbage_seen(f"an unknown message type {str(message.get('type'))[:40]!r}")

    def _garbage_seen(self, what: str) -> None:
        self._garbage += 1
        if self._garbage <= _LOGGED_GARBAGE:
            log.info("session %s: ignored %s on the data channel", self._session_id, what)
