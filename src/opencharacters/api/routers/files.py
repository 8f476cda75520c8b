"""/v1/files/...: blobs behind signed, expiring URLs (HTTP range requests supported)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from opencharacters.api.context import Services, services
from opencharacters.blobs.store import content_type_for
from opencharacters.domain.errors import Forbidden, NotFound

router = APIRouter(tags=["files"])


@router.api_route(
    "/v1/files/{key:path}",
    methods=["GET", "HEAD"],
    summary="Download a blob through a signed URL",
    response_class=FileResponse,
)
def signed_file(
    key: str,
    expires: str = Query(...),
    signature: str = Query(...),
    svc: Services = Depends(services),
) -> FileResponse:
    if not svc.signer.verify("blob", key, expires, signature):
        raise Forbidden("This link is invalid or has expired; request the resource again.")
    try:
        path = svc.blobs.local_path(key)
    except ValueError:
        raise NotFound("File not found.") from None
    if not path.is_file():
        raise NotFound("File not found.")
    return FileResponse(
        path,
        media_type=content_type_for(key),
        filename=path.name,
        content_disposition_type="inline",
    )
