"""Ephemeral uploads: each receives its file once.

Receiving is claim → store the file → record it, with the claim a conditional UPDATE: of any
number of concurrent senders exactly one finds the upload unclaimed, on SQLite and PostgreSQL
alike, and no database lock is held while the file is copied. A claimed upload without a
`blob_key` is still "not received" to everyone reading it (`ingest.sources`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from opencharacters.domain.errors import Forbidden, NotFound
from opencharacters.store.tables import Upload


def claim_upload(db: Session, upload_id: str, now: datetime) -> Upload:
    """Marks the upload as receiving its file, or says why it cannot (404, 403)."""
    claimed = db.execute(
        update(Upload)
        .where(
            Upload.id == upload_id,
            Upload.completed_at.is_(None),
            Upload.expires_at > now,
        )
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    upload = db.get(Upload, upload_id, populate_existing=True)
    if upload is None:
        raise NotFound(f"Upload {upload_id} not found.")
    if claimed.rowcount == 1:  # type: ignore[attr-defined]
        return upload
    if upload.completed_at is not None:
        raise Forbidden("This upload already received its file; start a new upload.")
    raise Forbidden("This upload has expired; start a new upload.")


def record_upload_file(
    db: Session, upload_id: str, *, blob_key: str, size: int, content_type: str | None
) -> None:
    db.execute(
        update(Upload)
        .where(Upload.id == upload_id)
        .values(blob_key=blob_key, size=size, content_type=content_type)
        .execution_options(synchronize_session=False)
    )


def release_claim(db: Session, upload_id: str) -> None:
    """After a failed store: the upload may receive its file again."""
    db.execute(
        update(Upload)
        .where(Upload.id == upload_id, Upload.blob_key.is_(None))
        .values(completed_at=None)
        .execution_options(synchronize_session=False)
    )
