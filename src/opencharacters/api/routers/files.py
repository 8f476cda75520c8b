"""/v1/files/...: blobs behind signed, expiring URLs (HTTP range requests supported)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse, RedirectResponse, Response

from opencharacters.api.context import Services, services
from opencharacters.blobs.store import FilesystemBlobStore, content_type_for
from opencharacters.domain.errors import Forbidden, NotFound

router = APIRouter(tags=["files"])

REDIRECT_TTL_S = 300
"""A store with URLs of its own (S3) gets a link that was handed out before it was
configured, or by an older version: the answer is a short-lived presigned URL to follow."""


@router.api_route(
    "/v1/files/{key:path}",
    methods=["GET", "HEAD"],
    summary="Download a blob through a signed URL",
    response_class=FileResponse,
    responses={307: {"description": "The blob store serves it: follow the presigned URL."}},
)
def signed_file(
    key: str,
    expires: str = Query(...),
    signature: str = Query(...),
    svc: Services = Depends(services),
) -> Response:
    if not svc.signer.verify("blob", key, expires, signature):
        raise Forbidden("This link is invalid or has expired; request the resource again.")
    store = svc.blobs
    if not isinstance(store, FilesystemBlobStore):
        try:
            exists = store.exists(key)
        except ValueError:
            exists = False
        if not exists:
            raise NotFound("File not found.")
        url = store.presigned_url(key, REDIRECT_TTL_S)
        if url is None:
            raise NotFound("File not found.")
        return RedirectResponse(url, status_code=307)
    try:
        path = store.local_path(key)
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
