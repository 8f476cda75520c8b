"""Path and query parameters shared by the routers."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query

from opencharacters.domain.errors import BadRequest

UUID_PATTERN = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)

IdPath = Annotated[str, Path(description="A UUID")]
Cursor = Annotated[
    str | None,
    Query(min_length=1, max_length=1000, description="nextCursor from the previous page"),
]


def limit_query(default: int) -> Any:
    return Query(default, ge=1, le=100, description=f"Page size, 1..100 (default {default})")


def check_id(value: str, what: str) -> str:
    if not UUID_PATTERN.match(value):
        raise BadRequest(f"{what} must be a UUID (got {value[:80]!r})")
    return value.lower()
