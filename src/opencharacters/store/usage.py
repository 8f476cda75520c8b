"""Metered use per organization and model, in Runway's model names.

One row per finished thing, written in the transaction that finishes it: a session's seconds
(`gwm1_avatars`), an avatar video's seconds (`gwm1_avatar_async_audio_to_video` or
`…_text_to_video`), a custom voice (`voice_processing`, one per voice). Rows stay when the
thing is deleted, so deleting a video does not give back the day's allowance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opencharacters.domain.timefmt import utcnow
from opencharacters.store.tables import UsageRecord


class Model(StrEnum):
    AVATARS = "gwm1_avatars"
    VIDEO_FROM_AUDIO = "gwm1_avatar_async_audio_to_video"
    VIDEO_FROM_TEXT = "gwm1_avatar_async_text_to_video"
    VOICE_PROCESSING = "voice_processing"


VIDEO_MODELS = (Model.VIDEO_FROM_AUDIO, Model.VIDEO_FROM_TEXT)
UNITS: dict[Model, str] = {
    Model.AVATARS: "seconds of realtime sessions",
    Model.VIDEO_FROM_AUDIO: "seconds of video rendered",
    Model.VIDEO_FROM_TEXT: "seconds of video rendered",
    Model.VOICE_PROCESSING: "custom voices made",
}


def meter(
    db: Session, org_id: str, model: Model, subject_id: str, amount: float, at: datetime
) -> None:
    """Records use once per (model, subject); a second call for the same subject is ignored."""
    exists = db.scalar(
        select(UsageRecord.id).where(
            UsageRecord.model == model.value, UsageRecord.subject_id == subject_id
        )
    )
    if exists is None:
        db.add(
            UsageRecord(
                organization_id=org_id,
                model=model.value,
                subject_id=subject_id,
                amount=float(amount),
                occurred_at=at,
            )
        )


def day_start(at: datetime) -> datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def month_start(at: datetime) -> datetime:
    return day_start(at).replace(day=1)


def used_since(db: Session, org_id: str, models: tuple[Model, ...], since: datetime) -> float:
    total = db.scalar(
        select(func.coalesce(func.sum(UsageRecord.amount), 0.0)).where(
            UsageRecord.organization_id == org_id,
            UsageRecord.model.in_([m.value for m in models]),
            UsageRecord.occurred_at >= since,
        )
    )
    return float(total or 0.0)


def count_since(db: Session, org_id: str, models: tuple[Model, ...], since: datetime) -> int:
    return int(
        db.scalar(
            select(func.count()).where(
                UsageRecord.organization_id == org_id,
                UsageRecord.model.in_([m.value for m in models]),
                UsageRecord.occurred_at >= since,
            )
        )
        or 0
    )


@dataclass(frozen=True, slots=True)
class DailyUse:
    day: date
    model: Model
    amount: float
    count: int


def daily_use(db: Session, org_id: str, start: date, before: date) -> list[DailyUse]:
    """Use per UTC day and model in [start, before), days without use left out."""
    low = datetime(start.year, start.month, start.day, tzinfo=UTC)
    high = datetime(before.year, before.month, before.day, tzinfo=UTC)
    rows = db.execute(
        select(UsageRecord.model, UsageRecord.amount, UsageRecord.occurred_at).where(
            UsageRecord.organization_id == org_id,
            UsageRecord.occurred_at >= low,
            UsageRecord.occurred_at < high,
        )
    ).all()
    # Grouped here rather than in SQL: truncating a timestamp to a day differs per database.
    totals: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for model, amount, occurred_at in rows:
        bucket = totals[(occurred_at.date(), model)]
        bucket[0] += amount
        bucket[1] += 1
    return [
        DailyUse(day, Model(model), amount, int(count))
        for (day, model), (amount, count) in sorted(totals.items())
        if model in Model._value2member_map_
    ]


def last_day(now: datetime | None = None) -> datetime:
    """The start of 'the past day' in Runway's organization usage (a rolling 24 hours)."""
    return (now or utcnow()) - timedelta(days=1)
