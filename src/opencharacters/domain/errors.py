"""What went wrong, by kind. Domain errors carry no HTTP status: the HTTP edges map each kind to
one (http_errors.py) and answer `{"error": "<message>"}`."""

from __future__ import annotations


class DomainError(Exception):
    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        """Response headers the refusal implies (Retry-After, WWW-Authenticate ...)."""


class BadRequest(DomainError):
    """The request itself is wrong: a field, a value over its limit."""


class Unauthorized(DomainError):
    """No credential, or one that is not valid."""


class Forbidden(DomainError):
    """A valid credential that may not do this."""


class NotFound(DomainError):
    """No such resource for this organization."""


class Conflict(DomainError):
    """The resource is in a state that does not allow it."""


class MethodNotAllowed(DomainError):
    """The resource exists but does not take this method."""


class PayloadTooLarge(DomainError):
    """A body over its size limit."""


class UnsupportedMediaType(DomainError):
    """A body of a type the endpoint does not take."""


class TooManyRequests(DomainError):
    """A rate or quota limit was reached."""


class NotImplementedYet(DomainError):
    """A part of Runway's API this server does not implement."""


class ServiceUnavailable(DomainError):
    """Something this needs is down or full for now."""
