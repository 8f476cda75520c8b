"""Where media comes from: https:// URLs, data: URIs and runway:// uploads."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import unquote_to_bytes

from sqlalchemy.orm import Session

from opencharacters.domain.errors import BadRequest
from opencharacters.domain.timefmt import utcnow
from opencharacters.store.tables import Upload

_DATA_URI = re.compile(
    r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[^,;]*)*),(?P<data>.*)$", re.S
)
_RUNWAY_URI = re.compile(r"^runway://uploads/(?P<id>[0-9a-fA-F-]{36})(/.*)?$")


def runway_uri(upload_id: str, filename: str) -> str:
    return f"runway://uploads/{upload_id}/{filename}"


def decode_data_uri(uri: str, field: str) -> tuple[bytes, str]:
    match = _DATA_URI.match(uri)
    if match is None:
        raise BadRequest(f"{field}: not a valid data URI (expected data:<type>;base64,<data>)")
    mime = match["mime"] or "text/plain"
    payload = match["data"]
    if ";base64" in (match["params"] or ""):
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest(
                f"{field}: the data URI's base64 payload is not valid base64"
            ) from None
    else:
        data = unquote_to_bytes(payload)
    if not data:
        raise BadRequest(f"{field}: the data URI is empty")
    return data, mime


def completed_upload(db: Session, org_id: str, uri: str, field: str) -> Upload:
    """The upload a runway:// URI names, if this organization finished it and it has not expired."""
    match = _RUNWAY_URI.match(uri)
    upload = db.get(Upload, match["id"].lower()) if match else None
    if upload is None or upload.organization_id != org_id:
        raise BadRequest(f"{field}: no upload found for {uri[:120]!r}")
    if upload.completed_at is None or upload.blob_key is None:
        raise BadRequest(f"{field}: the upload {upload.id} has not received its file yet")
    if upload.expires_at <= utcnow():
        raise BadRequest(f"{field}: the upload {upload.id} has expired; upload the file again")
    return upload
