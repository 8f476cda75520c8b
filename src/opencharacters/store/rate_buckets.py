"""Token buckets in PostgreSQL, shared by every API process on the database.

One statement takes a token: an upsert whose conflict branch refills the bucket by the time
since its last update and takes one only when one is there (`WHERE refilled >= 1`); a returned
row means the request may pass. The row lock the upsert takes serialises concurrent requests for
one key across all processes, and time is the database server's (`statement_timestamp()`), so
the API nodes' clocks do not matter. Only a refused request reads the bucket again, to say how
long to wait."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

_REFILLED = (
    "LEAST(:burst, b.tokens + EXTRACT(EPOCH FROM (statement_timestamp() - b.updated_at)) * :rate)"
)
_TAKE = text(
    f"""
    INSERT INTO rate_buckets AS b (key, tokens, updated_at)
    VALUES (:key, :burst - 1, statement_timestamp())
    ON CONFLICT (key) DO UPDATE
      SET tokens = {_REFILLED} - 1, updated_at = statement_timestamp()
      WHERE {_REFILLED} >= 1
    RETURNING b.tokens
    """
)
_LEVEL = text(f"SELECT {_REFILLED} FROM rate_buckets AS b WHERE b.key = :key")


def take(db: Session, key: str, *, rate_per_s: float, burst: float) -> float:
    """Takes one token: 0 when taken, else seconds until one is there."""
    params = {"key": key, "rate": rate_per_s, "burst": burst}
    if db.execute(_TAKE, params).first() is not None:
        return 0.0
    return wait(db, key, rate_per_s=rate_per_s, burst=burst)


def wait(db: Session, key: str, *, rate_per_s: float, burst: float) -> float:
    """Seconds until the bucket has a token (0 when it has one); takes nothing."""
    level = db.execute(_LEVEL, {"key": key, "rate": rate_per_s, "burst": burst}).scalar()
    if level is None or float(level) >= 1:
        return 0.0
    return (1 - float(level)) / rate_per_s
