"""/v1/uploads: presigned ephemeral uploads that yield runway:// URIs."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile

from opencharacters.api.auth import Caller, api_caller
from opencharacters.api.context import Services, services
from opencharacters.api.params import IdPath, check_id
from opencharacters.domain.errors import BadRequest, Forbidden, PayloadTooLarge
from opencharacters.domain.requests import UploadCreate
from opencharacters.domain.timefmt import iso, utcnow
from opencharacters.http_errors import HttpError
from opencharacters.ingest.sources import runway_uri
from opencharacters.store.tables import Upload
from opencharacters.store.uploads import claim_upload, record_upload_file, release_claim

router = APIRouter(tags=["uploads"])
FORM_OVERHEAD_BYTES = 64 * 1024


def safe_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "file"
    return cleaned[:120]


def _create(svc: Services, caller: Caller, body: UploadCreate) -> dict[str, Any]:
    now = utcnow()
    filename = safe_filename(body.filename)
    upload = Upload(
        id=str(uuid.uuid4()),
        organization_id=caller.org_id,
        filename=filename,
        created_at=now,
        expires_at=now + timedelta(seconds=svc.settings.upload_ttl_s),
    )
    with svc.db.session() as db:
        db.add(upload)
    expires = int(upload.expires_at.timestamp())
    return {
        "runwayUri": runway_uri(upload.id, filename),
        "uploadUrl": f"{svc.settings.resolved_public_url}/v1/uploads/{upload.id}/content",
        "fields": {
            "uploadId": upload.id,
            "expires": str(expires),
            "signature": svc.signer.signature("upload", upload.id, expires),
        },
        # Extension: when the URI stops working.
        "expiresAt": iso(upload.expires_at),
    }


@router.post("/v1/uploads", summary="Start an ephemeral upload")
async def create_upload(
    body: UploadCreate, caller: Caller = Depends(api_caller), svc: Services = Depends(services)
) -> dict[str, Any]:
    return await asyncio.to_thread(_create, svc, caller, body)


def _store(
    svc: Services, upload_id: str, source: Path, size: int, content_type: str | None
) -> None:
    with svc.db.session() as db:
        upload = claim_upload(db, upload_id, utcnow())
        key = f"uploads/{upload.organization_id}/{upload.id}/{upload.filename}"
    try:
        svc.blobs.put_file(key, source)
        with svc.db.session() as db:
            record_upload_file(db, upload_id, blob_key=key, size=size, content_type=content_type)
    except BaseException:
        with svc.db.session() as db:
            release_claim(db, upload_id)
        raise


@router.post(
    "/v1/uploads/{id}/content",
    status_code=204,
    summary="Receive the file of an upload (presigned multipart POST)",
    description="Send the `fields` from POST /v1/uploads plus the file as multipart/form-data.",
)
async def receive_upload(id: IdPath, request: Request, svc: Services = Depends(services)) -> None:
    upload_id = check_id(id, "id")
    limit = svc.settings.upload_max_bytes
    declared = request.headers.get("content-length")
    if declared is None:
        raise HttpError(411, "Content-Length is required for uploads.")
    if not declared.isdigit() or int(declared) > limit + FORM_OVERHEAD_BYTES:
        raise PayloadTooLarge(f"The file is larger than the upload limit of {limit} bytes.")
    try:
        form = await request.form(max_files=1, max_fields=10)
    except Exception as exc:
        raise BadRequest(f"The upload must be multipart/form-data ({exc}).") from None
    try:
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        if fields.get("uploadId", "").lower() != upload_id or not svc.signer.verify(
            "upload", upload_id, fields.get("expires", ""), fields.get("signature", "")
        ):
            raise Forbidden("The upload fields are missing, altered or expired.")
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("file: the multipart body needs a part named 'file'.")
        with tempfile.NamedTemporaryFile() as tmp:
            await asyncio.to_thread(shutil.copyfileobj, file.file, tmp)
            tmp.flush()
            size = tmp.tell()
            if size == 0:
                raise BadRequest("file: the uploaded file is empty.")
            if size > limit:
                raise PayloadTooLarge(f"The file is {size} bytes; the upload limit is {limit}.")
            await asyncio.to_thread(_store, svc, upload_id, Path(tmp.name), size, file.content_type)
    finally:
        await form.close()
