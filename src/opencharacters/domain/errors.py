"""Errors the API turns into `{"error": "..."}` bodies with the right status."""

from __future__ import annotations


class ApiError(Exception):
    status_code = 400

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status_code = 400


class Unauthorized(ApiError):
    status_code = 401


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Conflict(ApiError):
    status_code = 409


class MethodNotAllowed(ApiError):
    status_code = 405


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class TooManyRequests(ApiError):
    status_code = 429


class NotImplementedYet(ApiError):
    status_code = 501


class ServiceUnavailable(ApiError):
    status_code = 503
