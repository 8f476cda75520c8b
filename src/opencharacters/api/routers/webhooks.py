"""Extension: /v1/webhooks — an organization's webhook endpoints, their delivery log, and test
events. Runway's API has no webhooks; these routes are ours (docs/webhooks.md)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from yarl import URL

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import BadRequest, NotFound
from opencharacters.domain.requests import Strict
from opencharacters.domain.timefmt import iso, utcnow
from opencharacters.store.tables import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from opencharacters.store.webhook_events import EVENT_DESCRIPTIONS, EventType
from opencharacters.store.webhooks import emit
from opencharacters.webhooks.sender import private_address_reason, webhook_policy
from opencharacters.webhooks.signing import is_valid_secret, new_secret

router = APIRouter(tags=["webhooks (extension)"])
MAX_ENDPOINTS = 20
MAX_URL = 2000
LOG_ATTEMPTS = 20
"""Attempts shown per delivery in the log (the newest)."""

Url = Annotated[str, StringConstraints(min_length=1, max_length=MAX_URL)]
Description = Annotated[str, StringConstraints(max_length=200)]


class EndpointCreate(Strict):
    url: Url
    eventTypes: list[str] = Field(default_factory=list, max_length=len(EventType))
    description: Description | None = None
    secret: str | None = Field(
        default=None, description="whsec_ + base64 of 24 to 64 bytes; made for you if omitted"
    )
    enabled: bool = True


class EndpointUpdate(Strict):
    url: Url | None = None
    eventTypes: list[str] | None = Field(default=None, max_length=len(EventType))
    description: Description | None = None
    enabled: bool | None = None


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str | None
    eventTypes: list[str]
    enabled: bool
    createdAt: str
    updatedAt: str


class EndpointCreated(EndpointOut):
    secret: str


class EndpointList(BaseModel):
    data: list[EndpointOut]


class SecretOut(BaseModel):
    secret: str


class EventTypeOut(BaseModel):
    type: str
    description: str


class EventTypeList(BaseModel):
    data: list[EventTypeOut]


class TestSent(BaseModel):
    eventId: str


class AttemptOut(BaseModel):
    attemptedAt: str
    statusCode: int | None
    responseMs: int | None
    error: str | None
    responseBody: str | None


class DeliveryOut(BaseModel):
    id: str
    eventId: str
    eventType: str
    orderingKey: str
    status: str
    attempts: int
    nextAttemptAt: str | None
    lastStatusCode: int | None
    lastError: str | None
    createdAt: str
    finishedAt: str | None
    log: list[AttemptOut]
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


def check_url(url: str, svc: Services) -> str:
    if not url.startswith(("https://", "http://")):
        raise BadRequest("url: must start with https:// or http://")
    try:
        parsed = URL(url)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.host or any(c.isspace() for c in url):
        raise BadRequest("url: is not a valid URL (scheme, host, optional port and path)")
    policy = webhook_policy(svc.settings.webhook_allow_private, svc.settings.fetch_allow_networks)
    reason = private_address_reason(url, policy)
    if reason is not None:
        raise BadRequest(
            f"url: {reason}; webhooks go only to public addresses unless the server "
            "allows private ones (OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE=true)"
        )
    return url


def check_event_types(types: list[str]) -> list[str]:
    known = {t.value for t in EventType}
    for index, name in enumerate(types):
        if name not in known:
            raise BadRequest(
                f"eventTypes[{index}]: unknown event type {name[:80]!r}; "
                "GET /v1/webhooks/event_types lists them"
            )
    return sorted(set(types))


def endpoint_json(row: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": row.id,
        "url": row.url,
        "description": row.description,
        "eventTypes": list(row.event_types),
        "enabled": row.enabled,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def _get(db: Session, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    row = db.get(WebhookEndpoint, endpoint_id)
    if row is None or row.organization_id != org_id:
        raise NotFound(f"Webhook endpoint {endpoint_id} not found.")
    return row


@router.get(
    "/v1/webhooks/event_types",
    response_model=EventTypeList,
    summary="List the webhook event types (extension)",
)
async def list_event_types(_: Caller = Depends(api_caller)) -> dict[str, Any]:
    return {"data": [{"type": t.value, "description": EVENT_DESCRIPTIONS[t]} for t in EventType]}


def _list(svc: Services, caller: Caller) -> dict[str, Any]:
    with svc.db.session() as db:
        rows = db.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == caller.org_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return {"data": [endpoint_json(row) for row in rows]}


@router.get(
    "/v1/webhooks",
    response_model=EndpointList,
    summary="List this organization's webhook endpoints (extension)",
)
async def list_endpoints(
    caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_list, svc, caller)


def _create(svc: Services, caller: Caller, body: EndpointCreate) -> dict[str, Any]:
    url = check_url(body.url, svc)
    types = check_event_types(body.eventTypes)
    if body.secret is not None and not is_valid_secret(body.secret):
        raise BadRequest("secret: must be whsec_ followed by base64 of 24 to 64 bytes")
    secret = body.secret or new_secret()
    with svc.db.session() as db:
        count = db.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == caller.org_id)
        )
        if int(count or 0) >= MAX_ENDPOINTS:
            raise BadRequest(
                f"This organization already has {MAX_ENDPOINTS} webhook endpoints (the limit); "
                "delete one first"
            )
        now = utcnow()
        row = WebhookEndpoint(
            id=str(uuid.uuid4()),
            organization_id=caller.org_id,
            url=url,
            description=body.description,
            event_types=types,
            secret=secret,
            enabled=body.enabled,
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        return {**endpoint_json(row), "secret": secret}


@router.post(
    "/v1/webhooks",
    response_model=EndpointCreated,
    summary="Register a webhook endpoint (extension)",
    description="Events are signed with the returned `secret` (Standard Webhooks). "
    "`eventTypes` empty or omitted: every event type.",
)
async def create_endpoint(
    body: EndpointCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_create, svc, caller, body)


def _retrieve(svc: Services, caller: Caller, endpoint_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return endpoint_json(_get(db, caller.org_id, endpoint_id))


@router.get("/v1/webhooks/{id}", response_model=EndpointOut, summary="Retrieve a webhook endpoint")
async def retrieve_endpoint(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_retrieve, svc, caller, check_id(id, "id"))


def _secret(svc: Services, caller: Caller, endpoint_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        return {"secret": _get(db, caller.org_id, endpoint_id).secret}


@router.get(
    "/v1/webhooks/{id}/secret",
    response_model=SecretOut,
    summary="Read a webhook endpoint's signing secret",
)
async def endpoint_secret(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_secret, svc, caller, check_id(id, "id"))


def _update(
    svc: Services, caller: Caller, endpoint_id: str, body: EndpointUpdate
) -> dict[str, Any]:
    url = check_url(body.url, svc) if body.url is not None else None
    types = check_event_types(body.eventTypes) if body.eventTypes is not None else None
    with svc.db.session() as db:
        row = _get(db, caller.org_id, endpoint_id)
        if url is not None:
            row.url = url
        if types is not None:
            row.event_types = types
        if "description" in body.model_fields_set:
            row.description = body.description
        if body.enabled is not None:
            row.enabled = body.enabled
        row.updated_at = utcnow()
        return endpoint_json(row)


@router.patch("/v1/webhooks/{id}", response_model=EndpointOut, summary="Change a webhook endpoint")
async def update_endpoint(
    id: IdPath,
    body: EndpointUpdate,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    result = await asyncio.to_thread(_update, svc, caller, check_id(id, "id"), body)
    svc.webhooks.wake()  # re-enabled: what waited may go now
    return result


def _delete(svc: Services, caller: Caller, endpoint_id: str) -> None:
    with svc.db.session() as db:
        db.delete(_get(db, caller.org_id, endpoint_id))


@router.delete(
    "/v1/webhooks/{id}",
    status_code=204,
    summary="Delete a webhook endpoint (its undelivered events are dropped)",
)
async def delete_endpoint(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> Response:
    await asyncio.to_thread(_delete, svc, caller, check_id(id, "id"))
    return Response(status_code=204)


def _test(svc: Services, caller: Caller, endpoint_id: str) -> dict[str, Any]:
    with svc.db.session() as db:
        row = _get(db, caller.org_id, endpoint_id)
        event_id = emit(
            db,
            caller.org_id,
            EventType.TEST,
            {"endpointId": row.id, "message": "A test event from OpenCharacters."},
            ordering_key=f"test:{row.id}",
            only_endpoint=row.id,
        )
        assert event_id is not None  # only_endpoint always matches its endpoint
        return {"eventId": event_id}


@router.post(
    "/v1/webhooks/{id}/test",
    response_model=TestSent,
    summary="Send a test event to a webhook endpoint",
    description="Queues a `webhook.test` event for this endpoint only (even if it does not "
    "subscribe to that type, or is disabled: then it waits until enabled).",
)
async def send_test_event(
    id: IdPath, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    result = await asyncio.to_thread(_test, svc, caller, check_id(id, "id"))
    svc.webhooks.wake()
    return result


def delivery_json(
    delivery: WebhookDelivery, event: WebhookEvent, attempts: list[WebhookAttempt]
) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "eventId": event.id,
        "eventType": event.type,
        "orderingKey": delivery.ordering_key,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at) if delivery.status == "PENDING" else None,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "createdAt": iso(delivery.created_at),
        "finishedAt": iso(delivery.finished_at) if delivery.finished_at else None,
        "log": [
            {
                "attemptedAt": iso(a.attempted_at),
                "statusCode": a.status_code,
                "responseMs": a.response_ms,
                "error": a.error,
                "responseBody": a.response_body,
            }
            for a in attempts
        ],
        "payload": event.payload,
    }


def _deliveries(
    svc: Services, caller: Caller, endpoint_id: str, limit: int, status: str | None
) -> dict[str, Any]:
    with svc.db.session() as db:
        _get(db, caller.org_id, endpoint_id)
        query = (
            select(WebhookDelivery, WebhookEvent)
            .join(WebhookEvent, WebhookEvent.seq == WebhookDelivery.event_seq)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.event_seq.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookDelivery.status == status)
        rows = db.execute(query).all()
        attempts: dict[str, list[WebhookAttempt]] = {d.id: [] for d, _ in rows}
        if attempts:
            for attempt in db.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id.in_(list(attempts)))
                .order_by(WebhookAttempt.id)
            ):
                attempts[attempt.delivery_id].append(attempt)
        return {"data": [delivery_json(d, e, attempts[d.id][-LOG_ATTEMPTS:]) for d, e in rows]}


@router.get(
    "/v1/webhooks/{id}/deliveries",
    response_model=DeliveryList,
    summary="The delivery log of a webhook endpoint",
    description="Newest event first: each delivery's status, attempts (time, HTTP status, "
    "response time, error) and the event sent.",
)
async def list_deliveries(
    id: IdPath,
    limit: int = Query(50, ge=1, le=100, description="How many deliveries, 1..100"),
    status: str | None = Query(
        None, pattern="^(PENDING|SUCCEEDED|FAILED)$", description="Only this status"
    ),
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    return await asyncio.to_thread(_deliveries, svc, caller, check_id(id, "id"), limit, status)
