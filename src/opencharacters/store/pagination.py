"""Cursor pagination (`data`, `hasMore`, `nextCursor`) over (timestamp, id) keysets."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

from opencharacters.domain.errors import BadRequest

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None

    def to_wire(self, render: Callable[[T], dict[str, Any]]) -> dict[str, Any]:
        return {
            "data": [render(item) for item in self.items],
            "hasMore": self.next_cursor is not None,
            "nextCursor": self.next_cursor,
        }


def encode_cursor(at: datetime, item_id: str) -> str:
    raw = json.dumps([at.isoformat(), item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, item_id = json.loads(raw)
        return datetime.fromisoformat(at), str(item_id)
    except (ValueError, TypeError):
        raise BadRequest("cursor is not valid: pass back a nextCursor this API returned") from None


def paginate(
    db: Session,
    query: Select[T],
    *,
    time_column: InstrumentedAttribute[datetime],
    id_column: InstrumentedAttribute[str],
    time_of: Callable[[T], datetime],
    id_of: Callable[[T], str],
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> Page[T]:
    if cursor:
        at, last_id = decode_cursor(cursor)
        if descending:
            query = query.where(or_(time_column < at, and_(time_column == at, id_column < last_id)))
        else:
            query = query.where(or_(time_column > at, and_(time_column == at, id_column > last_id)))
    order = (time_column.desc(), id_column.desc()) if descending else (time_column, id_column)
    rows = list(db.scalars(query.order_by(*order).limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(time_of(rows[-1]), id_of(rows[-1])) if has_more and rows else None
    return Page(rows, next_cursor)
