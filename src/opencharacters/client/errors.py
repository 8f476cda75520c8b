"""What a call can end with, for the caller's code to tell apart."""

from __future__ import annotations


class CallError(Exception):
    pass


class CallTimeout(CallError, TimeoutError):
    """Something awaited on the call did not happen in time (the server is still there)."""


class PeerGone(CallError):
    """The server went away or ended the call; the message says how it was noticed."""
