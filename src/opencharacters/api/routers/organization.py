"""/v1/organization and /v1/organization/usage in the shapes Runway's SDKs parse, plus the
extension /v1/organization/limits.

Nothing is charged on a self-hosted server, so credits are 0; `usedCredits[].amount` carries the
metered quantity instead (seconds of sessions and videos, voices made: see store/usage.py), and
the tier's model limits are this organization's configured limits."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends
from pydantic import BaseModel

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.domain.errors import BadRequest
from opencharacters.domain.requests import Strict
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.limits import (
    LIMIT_NAMES,
    OrgLimits,
    org_limits,
    org_use,
    server_defaults,
)
from opencharacters.store.tables import Organization
from opencharacters.store.usage import UNITS, VIDEO_MODELS, Model, count_since, daily_use, last_day

router = APIRouter(tags=["organization"])
MAX_USAGE_RANGE_DAYS = 90
DEFAULT_USAGE_RANGE_DAYS = 30


class TierModel(BaseModel):
    maxConcurrentGenerations: int | None
    maxDailyGenerations: int | None


class Tier(BaseModel):
    maxMonthlyCreditSpend: int
    models: dict[str, TierModel]


class UsageModel(BaseModel):
    dailyGenerations: int


class Usage(BaseModel):
    models: dict[str, UsageModel]


class OrganizationOut(BaseModel):
    creditBalance: int
    tier: Tier
    usage: Usage


class UsageQuery(Strict):
    startDate: str | None = None
    beforeDate: str | None = None


class UsedCredit(BaseModel):
    amount: int
    model: str


class UsageDay(BaseModel):
    date: str
    usedCredits: list[UsedCredit]


class UsageOut(BaseModel):
    models: list[str]
    results: list[UsageDay]
    units: dict[str, str]
    """Extension: what `amount` counts for each model."""


class LimitOut(BaseModel):
    limit: int | None
    used: float
    window: str
    default: bool


class LimitsOut(BaseModel):
    organization: str
    limits: dict[str, LimitOut]


def tier_models(limits: OrgLimits, video_slots: int) -> dict[str, dict[str, int | None]]:
    videos = {
        "maxConcurrentGenerations": video_slots,
        "maxDailyGenerations": limits.max_avatar_videos_per_day,
    }
    return {
        Model.AVATARS.value: {
            "maxConcurrentGenerations": limits.max_concurrent_sessions,
            "maxDailyGenerations": limits.max_sessions_per_day,
        },
        Model.VIDEO_FROM_AUDIO.value: dict(videos),
        Model.VIDEO_FROM_TEXT.value: dict(videos),
        Model.VOICE_PROCESSING.value: {
            "maxConcurrentGenerations": video_slots,
            "maxDailyGenerations": None,
        },
    }


def _organization(svc: Services, caller: Caller) -> dict[str, Any]:
    with svc.db.session() as db:
        limits = org_limits(db, caller.org_id, server_defaults(svc.settings))
        since = last_day()
        use = org_use(db, caller.org_id)
        daily = {
            Model.AVATARS.value: use.sessions_last_day,
            **{m.value: count_since(db, caller.org_id, (m,), since) for m in VIDEO_MODELS},
            Model.VOICE_PROCESSING.value: count_since(
                db, caller.org_id, (Model.VOICE_PROCESSING,), since
            ),
        }
    return {
        "creditBalance": 0,
        "tier": {
            "maxMonthlyCreditSpend": 0,
            # Background rendering runs one job at a time per server (the CPU gate).
            "models": tier_models(limits, video_slots=1),
        },
        "usage": {"models": {m: {"dailyGenerations": n} for m, n in daily.items()}},
    }


@router.get(
    "/v1/organization",
    response_model=OrganizationOut,
    summary="The organization's tier limits and usage in the past day",
)
async def retrieve_organization(
    caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_organization, svc, caller)


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{field}: must be a date as YYYY-MM-DD (got {value[:40]!r})") from None


def usage_range(query: UsageQuery) -> tuple[date, date]:
    today = utcnow().date()
    start = (
        parse_day(query.startDate, "startDate")
        if query.startDate
        else today - timedelta(days=DEFAULT_USAGE_RANGE_DAYS)
    )
    before = (
        parse_day(query.beforeDate, "beforeDate")
        if query.beforeDate
        else start + timedelta(days=DEFAULT_USAGE_RANGE_DAYS)
    )
    if before <= start:
        raise BadRequest("beforeDate: must be after startDate")
    if (before - start).days > MAX_USAGE_RANGE_DAYS:
        raise BadRequest(
            f"beforeDate: may be at most {MAX_USAGE_RANGE_DAYS} days after startDate "
            f"(got {(before - start).days})"
        )
    return start, before


def _usage(svc: Services, caller: Caller, start: date, before: date) -> dict[str, Any]:
    with svc.db.session() as db:
        used = daily_use(db, caller.org_id, start, before)
    by_day: dict[date, list[dict[str, Any]]] = {}
    day = start
    while day < before:
        by_day[day] = []
        day += timedelta(days=1)
    models: list[str] = []
    for item in used:
        by_day[item.day].append({"amount": round(item.amount), "model": item.model.value})
        if item.model.value not in models:
            models.append(item.model.value)
    return {
        "models": sorted(models),
        "results": [
            {"date": day.isoformat(), "usedCredits": credits} for day, credits in by_day.items()
        ],
        "units": {m.value: UNITS[m] for m in Model},
    }


@router.post(
    "/v1/organization/usage",
    response_model=UsageOut,
    summary="Usage per UTC day and model",
    description="`startDate` defaults to 30 days ago, `beforeDate` (exclusive) to 30 days "
    "after the start; at most 90 days. `amount` is the metered quantity (see `units`).",
)
async def retrieve_usage(
    body: Annotated[UsageQuery | None, Body()] = None,
    caller: Caller = Depends(api_caller),
    svc: Services = Depends(services),
) -> dict[str, Any]:
    start, before = usage_range(body or UsageQuery())
    return await asyncio.to_thread(_usage, svc, caller, start, before)


def _limits(svc: Services, caller: Caller) -> dict[str, Any]:
    defaults = server_defaults(svc.settings)
    with svc.db.session() as db:
        org = db.get(Organization, caller.org_id)
        limits = org_limits(db, caller.org_id, defaults)
        use = org_use(db, caller.org_id)
        name = org.name if org else caller.org_name
        own = {k: getattr(org, k, None) for k in LIMIT_NAMES}
    used = {
        "max_concurrent_sessions": (use.concurrent_sessions, "now"),
        "max_sessions_per_day": (use.sessions_last_day, "last 24 hours"),
        "max_session_minutes_per_month": (
            round(use.session_seconds_this_month / 60, 2),
            "this month (UTC)",
        ),
        "max_avatar_videos_per_day": (use.avatar_videos_last_day, "last 24 hours"),
    }
    return {
        "organization": name,
        "limits": {
            wire: {
                "limit": getattr(limits, key),
                "used": used[key][0],
                "window": used[key][1],
                "default": own[key] is None,
            }
            for key, wire in LIMIT_NAMES.items()
        },
    }


@router.get(
    "/v1/organization/limits",
    response_model=LimitsOut,
    summary="This organization's limits and what counts against them (extension)",
    description="`limit: null` is unlimited. Operators set limits with "
    "`opencharacters orgs limits`; a request past one answers 429 naming it.",
)
async def retrieve_limits(
    caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_limits, svc, caller)
