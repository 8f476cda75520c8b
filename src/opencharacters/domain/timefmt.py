"""Timestamps on the wire: ISO-8601 UTC with milliseconds and `Z`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def parse_query_datetime(raw: str, field: str) -> datetime:
    """Accepts `Z`, `+00:00`, naive (taken as UTC) and plain dates, as Runway's SDKs send them."""
    from opencharacters.domain.errors import BadRequest

    text = raw.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        # An unencoded "+" in a query string arrives as a space.
        text = re.sub(r"(T[\d:.]+) (\d{2}:?\d{2})$", r"\1+\2", text)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(
            f"{field} must be an ISO-8601 date or date-time (e.g. 2026-01-01T00:00:00Z), "
            f"got {raw!r}"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
