"""Per-organization limits: what an organization may use, what it has used, and the checks that
answer 429 with the limit's name.

Each limit is the organization's own (set with `opencharacters orgs limits`) or else the
server's default (OPENCHARACTERS_MAX_*_PER_ORG); None means unlimited. Daily limits count a
rolling 24 hours, as Runway's daily generation limits do; the monthly one counts the UTC
calendar month. Callers run a check and the insert it guards in one transaction, after taking
the organization's lock, so concurrent requests cannot both pass."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opencharacters.domain.errors import TooManyRequests
from opencharacters.domain.session_states import SessionStatus
from opencharacters.domain.timefmt import utcnow
from opencharacters.settings import Settings
from opencharacters.store.sessions import count_active
from opencharacters.store.tables import Organization, RealtimeSession, Task, UsageRecord
from opencharacters.store.usage import VIDEO_MODELS, Model, month_start, used_since

DAY = timedelta(days=1)
ACTIVE_TASKS = ("PENDING", "THROTTLED", "RUNNING")


@dataclass(frozen=True, slots=True)
class OrgLimits:
    max_concurrent_sessions: int | None
    max_sessions_per_day: int | None
    max_session_minutes_per_month: int | None
    max_avatar_videos_per_day: int | None


LIMIT_NAMES = {
    "max_concurrent_sessions": "maxConcurrentSessions",
    "max_sessions_per_day": "maxSessionsPerDay",
    "max_session_minutes_per_month": "maxSessionMinutesPerMonth",
    "max_avatar_videos_per_day": "maxAvatarVideosPerDay",
}


def server_defaults(settings: Settings) -> OrgLimits:
    return OrgLimits(
        max_concurrent_sessions=settings.max_concurrent_sessions_per_org,
        max_sessions_per_day=settings.max_sessions_per_day_per_org,
        max_session_minutes_per_month=settings.max_session_minutes_per_month_per_org,
        max_avatar_videos_per_day=settings.max_avatar_videos_per_day_per_org,
    )


def effective_limits(org: Organization | None, defaults: OrgLimits) -> OrgLimits:
    if org is None:
        return defaults
    own = {f.name: getattr(org, f.name) for f in fields(OrgLimits)}
    return replace(defaults, **{name: value for name, value in own.items() if value is not None})


def org_limits(db: Session, org_id: str, defaults: OrgLimits) -> OrgLimits:
    return effective_limits(db.get(Organization, org_id), defaults)


@dataclass(frozen=True, slots=True)
class OrgUse:
    concurrent_sessions: int
    sessions_last_day: int
    session_seconds_this_month: float
    avatar_videos_last_day: int


def sessions_since(db: Session, org_id: str, since: datetime) -> list[datetime]:
    return list(
        db.scalars(
            select(RealtimeSession.created_at)
            .where(RealtimeSession.organization_id == org_id, RealtimeSession.created_at >= since)
            .order_by(RealtimeSession.created_at)
        )
    )


def running_seconds(db: Session, org_id: str, now: datetime, since: datetime) -> float:
    """Seconds the organization's live calls have run so far this period (not yet metered)."""
    starts = db.scalars(
        select(RealtimeSession.started_at).where(
            RealtimeSession.organization_id == org_id,
            RealtimeSession.status == SessionStatus.RUNNING,
        )
    )
    return sum((now - max(start, since)).total_seconds() for start in starts if start is not None)


def videos_since(db: Session, org_id: str, since: datetime) -> list[datetime]:
    """Avatar videos that count today: those made (metered, kept after deletion) and those
    still waiting or rendering."""
    made = db.scalars(
        select(UsageRecord.occurred_at).where(
            UsageRecord.organization_id == org_id,
            UsageRecord.model.in_([m.value for m in VIDEO_MODELS]),
            UsageRecord.occurred_at >= since,
        )
    )
    waiting = db.scalars(
        select(Task.created_at).where(
            Task.organization_id == org_id,
            Task.kind == "avatar_video",
            Task.status.in_(ACTIVE_TASKS),
        )
    )
    return sorted([*made, *waiting])


def org_use(db: Session, org_id: str, now: datetime | None = None) -> OrgUse:
    now = now or utcnow()
    month = month_start(now)
    return OrgUse(
        concurrent_sessions=count_active(db, org_id),
        sessions_last_day=len(sessions_since(db, org_id, now - DAY)),
        session_seconds_this_month=used_since(db, org_id, (Model.AVATARS,), month)
        + running_seconds(db, org_id, now, month),
        avatar_videos_last_day=len(videos_since(db, org_id, now - DAY)),
    )


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, int(seconds) + 1))}


def _window_retry(recent: list[datetime], cap: int, now: datetime) -> dict[str, str]:
    """When the oldest item that keeps the count at the cap leaves the 24-hour window."""
    if cap == 0 or len(recent) < cap:
        return _retry_after(DAY.total_seconds())
    return _retry_after((recent[-cap] + DAY - now).total_seconds())


def check_session_limits(db: Session, org_id: str, defaults: OrgLimits) -> None:
    """Raises 429 naming the first limit a new session would pass."""
    limits = org_limits(db, org_id, defaults)
    now = utcnow()
    cap = limits.max_concurrent_sessions
    if cap is not None and count_active(db, org_id) >= cap:
        raise TooManyRequests(
            f"maxConcurrentSessions: this organization already has {cap} active sessions "
            "(the limit); end one or retry later",
            headers={"Retry-After": "5"},
        )
    cap = limits.max_sessions_per_day
    if cap is not None:
        recent = sessions_since(db, org_id, now - DAY)
        if len(recent) >= cap:
            raise TooManyRequests(
                f"maxSessionsPerDay: this organization created {len(recent)} sessions in the "
                f"last 24 hours; the limit is {cap}",
                headers=_window_retry(recent, cap, now),
            )
    cap = limits.max_session_minutes_per_month
    if cap is not None:
        month = month_start(now)
        used = used_since(db, org_id, (Model.AVATARS,), month) + running_seconds(
            db, org_id, now, month
        )
        if used >= cap * 60:
            next_month = (month + timedelta(days=32)).replace(day=1)
            raise TooManyRequests(
                f"maxSessionMinutesPerMonth: this organization's sessions ran {used / 60:.1f} "
                f"minutes this month (UTC); the limit is {cap} minutes",
                headers=_retry_after((next_month - now).total_seconds()),
            )


def check_video_limits(db: Session, org_id: str, defaults: OrgLimits) -> None:
    cap = org_limits(db, org_id, defaults).max_avatar_videos_per_day
    if cap is None:
        return
    now = utcnow()
    recent = videos_since(db, org_id, now - DAY)
    if len(recent) >= cap:
        raise TooManyRequests(
            f"maxAvatarVideosPerDay: this organization made or queued {len(recent)} avatar "
            f"videos in the last 24 hours; the limit is {cap}",
            headers=_window_retry(recent, cap, now),
        )
