"""Every error leaves as `{"error": "<what went wrong and what the limit is>"}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from opencharacters.api.route_index import RouteIndex
from opencharacters.domain.errors import DomainError
from opencharacters.domain.text_length import utf16_length
from opencharacters.http_errors import error_response, http_status

log = logging.getLogger(__name__)

_LOCATION_PREFIXES = {"body", "query", "path", "header"}
# Tags of discriminated unions, which pydantic adds to error paths.
_UNION_TAGS = {
    "runway-live-preset",
    "custom",
    "runway-preset",
    "client_event",
    "backend_rpc",
    "string",
    "integer",
    "number",
    "boolean",
    "array",
    "object",
    "text",
    "audio",
    "preset",
}
# Fields whose value is a discriminated union (list items are covered by their index).
_UNION_FIELDS = {"voice", "avatar", "speech", "from"}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in _LOCATION_PREFIXES:
        parts = parts[1:]
    # Discriminated unions add the tag ("custom", "text", ...) to the path after the field or
    # list index holding the union; drop it so the path reads as the caller wrote it:
    # tools[0].parameters[1].name, speech.text
    out = ""
    previous = ""
    for part in parts:
        is_tag = part in _UNION_TAGS and (previous in _UNION_FIELDS or previous.isdigit())
        if part.isdigit():
            out += f"[{part}]"
        elif not is_tag:
            out += f".{part}" if out else part
        previous = "" if is_tag else part
    return out


def required_body_fields(request: Request) -> list[str]:
    """The required top-level fields of the route's JSON body, as the caller spells them."""
    route = request.scope.get("route")
    field = route.body_field if isinstance(route, APIRoute) else None
    model = field.field_info.annotation if field is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return []
    return [info.alias or name for name, info in model.model_fields.items() if info.is_required()]


def describe_validation_error(error: dict[str, Any], required: list[str] | None = None) -> str:
    kind = error.get("type", "")
    field = _field_path(tuple(error.get("loc", ())))
    ctx = error.get("ctx") or {}
    given = error.get("input")
    where = f"{field}: " if field else ""
    if kind == "missing" and not field:
        needs = f" with {', '.join(required)}" if required else ""
        return f"The request body is required: send a JSON object{needs}"
    if kind == "extra_forbidden":
        return f'Unrecognized key: "{field.rsplit(".", 1)[-1]}"' + (
            f" (in {field.rsplit('.', 1)[0]})" if "." in field else ""
        )
    if kind == "missing":
        return f"{field} is required"
    if kind == "string_too_long":
        n = utf16_length(given) if isinstance(given, str) else "?"
        return f"{where}must be at most {ctx.get('max_length')} characters (got {n})"
    if kind == "string_too_short":
        return f"{where}must be at least {ctx.get('min_length')} characters"
    if kind == "too_long":
        got = ctx.get("actual_length")
        return f"{where}may have at most {ctx.get('max_length')} items (got {got})"
    if kind == "too_short":
        return f"{where}must have at least {ctx.get('min_length')} items"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        bound = {
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "less_than_equal": f"at most {ctx.get('le')}",
            "greater_than": f"greater than {ctx.get('gt')}",
            "less_than": f"less than {ctx.get('lt')}",
        }[kind]
        return f"{where}must be {bound} (got {given!r})"
    if kind == "literal_error":
        return f"{where}must be {ctx.get('expected')} (got {given!r})"
    if kind == "union_tag_invalid":
        return f"{where}type must be {ctx.get('expected_tags')} (got {ctx.get('tag')!r})"
    if kind == "union_tag_not_found":
        return f'{where}needs a "{ctx.get("discriminator", "type").strip(chr(39))}" field'
    if kind == "uuid_parsing" or kind == "uuid_type":
        return f"{where}must be a UUID (got {given!r})"
    if kind == "string_pattern_mismatch":
        return f"{where}must match {ctx.get('pattern')} (got {given!r})"
    if kind == "value_error":
        message = str(ctx.get("error", error.get("msg", "")))
        return f"{where}{message}"
    if kind == "json_invalid":
        return f"The request body is not valid JSON ({ctx.get('error', 'parse error')})"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return (
            f"{where}must be a JSON object" if field else "The request body must be a JSON object"
        )
    return f"{where}{error.get('msg', 'is invalid')}"


def allowed_methods(request: Request) -> list[str]:
    index: RouteIndex | None = getattr(request.app.state, "route_index", None)
    return index.allowed_methods(request.scope) if index else []


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return error_response(http_status(exc), exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        messages: list[str] = []
        for error in errors:
            text = describe_validation_error(dict(error), required_body_fields(request))
            if text not in messages:
                messages.append(text)
        return error_response(400, "; ".join(messages[:5]) or "Invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else "Request failed"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and message == "Not Found":
            message = "No such endpoint."
        elif exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = (
                f"Method {request.method} is not allowed on this endpoint; "
                f"allowed: {', '.join(allowed)}."
            )
        elif exc.status_code == 413:
            headers["Connection"] = "close"  # the rest of the body is not read
        return error_response(exc.status_code, message, headers)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(500, "Internal server error; the failure was logged.")
