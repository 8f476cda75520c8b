"""/openapi.json as clients need it: every operation documents its errors (`{"error": str}`), ids
are `format: uuid`, success bodies have their wire models (api/wire_models.py), and FastAPI's
422 (which this API never sends: validation errors are 400) is gone."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from opencharacters.api.wire_models import SUCCESS_MODELS, Error, Wire

ERRORS: dict[str, str] = {
    "400": "The request is invalid; the message names the field and the limit.",
    "401": "Missing or invalid credentials.",
    "403": "Not allowed (e.g. a limit reached, an upload already used).",
    "404": "No such resource in this organization.",
    "409": "The resource's state does not allow it now; the message says why.",
    "413": "The request body is over this endpoint's limit.",
    "429": "Too many requests; retry after `Retry-After` seconds.",
    "500": "An unexpected failure; it was logged.",
    "507": "The server's storage is full or read-only; reads still work.",
}
EXTRA_ERRORS: dict[tuple[str, str], dict[str, str]] = {
    ("post", "/v1/realtime_sessions/{id}/whip"): {
        "415": "The offer must be sent as application/sdp."
    },
    ("post", "/v1/uploads/{id}/content"): {"411": "Uploads need a Content-Length."},
}
ID_PARAMETERS = {"id", "conversationId", "avatar", "avatarId"}
REF = "#/components/schemas/{model}"


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }


def _model_schemas() -> tuple[dict[type[Wire], str], dict[str, Any]]:
    models: list[type[Wire]] = [Error, *dict.fromkeys(SUCCESS_MODELS.values())]
    keys, definitions = models_json_schema(
        [(model, "serialization") for model in models], ref_template=REF
    )
    refs = {model: keys[(model, "serialization")]["$ref"] for model in models}
    return refs, definitions.get("$defs", {})


def complete_schema(schema: dict[str, Any]) -> dict[str, Any]:
    refs, definitions = _model_schemas()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    clashes = {name for name in definitions if name in components and name != "Error"}
    if clashes:  # two different models under one name: one would silently replace the other
        raise RuntimeError(f"OpenAPI schema names used twice: {sorted(clashes)}")
    components.update(definitions)
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            extra = EXTRA_ERRORS.get((method, path), {})
            for status, description in {**ERRORS, **extra}.items():
                responses.setdefault(status, _error_response(description))
            model = SUCCESS_MODELS.get((method, path))
            if model is not None:
                success = next(code for code in ("200", "201") if code in responses)
                responses[success]["content"] = {
                    "application/json": {"schema": {"$ref": refs[model]}}
                }
            for parameter in operation.get("parameters", []):
                if parameter.get("name") in ID_PARAMETERS and parameter.get("in") in (
                    "path",
                    "query",
                ):
                    _mark_uuid(parameter.get("schema", {}))
    return schema


def _mark_uuid(schema: dict[str, Any]) -> None:
    if schema.get("type") == "string":
        schema["format"] = "uuid"
    for option in schema.get("anyOf", []):
        _mark_uuid(option)


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete_schema(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
