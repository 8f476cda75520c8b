"""The HTTP status of each kind of domain error, shared by the public API and the media workers'
internal endpoint (whose answers the API relays), so both answer a refusal alike."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from opencharacters.domain.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotImplementedYet,
    PayloadTooLarge,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
)

HTTP_STATUS: dict[type[DomainError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    NotImplementedYet: 501,
    ServiceUnavailable: 503,
}


class HttpError(DomainError):
    """A refusal whose status is decided at the HTTP edge itself (411 Length Required, or the
    status a media worker answered with, relayed as it was)."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message, headers=headers)
        self.status = status


def http_status(error: DomainError) -> int:
    if isinstance(error, HttpError):
        return error.status
    for kind in type(error).__mro__:
        status = HTTP_STATUS.get(kind)
        if status is not None:
            return status
    return 400


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install_domain_error_handler(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(http_status(exc), exc.message, exc.headers)
