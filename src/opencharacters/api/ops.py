"""For load balancers and monitoring: /healthz, /readyz, /metrics (outside the /v1 API and
its OpenAPI schema; no authentication, like any health endpoint: expose them to the
operators' network only)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from opencharacters import __version__
from opencharacters.api.context import Services, services
from opencharacters.api.metrics import ApiMetrics
from opencharacters.store.stats import ping

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

CHECK_TIMEOUT_S = 5.0
"""A dependency that does not answer in this long is not ready: a load balancer waits less."""


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive and serving HTTP; nothing else is asked."""
    return {"status": "ok", "version": __version__}


def _check_database(svc: Services) -> None:
    with svc.db.session() as db:
        ping(db)


async def _failure(name: str, check: Callable[[Services], None], svc: Services) -> str | None:
    try:
        await asyncio.wait_for(asyncio.to_thread(check, svc), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"{name} did not answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as error:  # any failure means not ready; say which and why
        reason = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"{name} unreachable ({type(error).__name__}{': ' + reason if reason else ''})"
    return None


def _check_blob_store(svc: Services) -> None:
    svc.blobs.check()


@router.get("/readyz")
async def readyz(svc: Services = Depends(services)) -> JSONResponse:
    """Ready to take traffic: the database answers and the blob store can be reached."""
    failures = [
        failure
        for failure in await asyncio.gather(
            _failure("database", _check_database, svc),
            _failure("blob store", _check_blob_store, svc),
        )
        if failure
    ]
    if failures:
        log.warning("not ready: %s", "; ".join(failures))
        return JSONResponse({"error": "Not ready: " + "; ".join(failures) + "."}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus text format. Sync: the scrape queries the database, on a worker thread."""
    found: ApiMetrics = request.app.state.metrics
    return Response(generate_latest(found.registry), media_type=CONTENT_TYPE_LATEST)
