"""The FastAPI application: services wired at start-up, routers, errors, CORS."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from sqlalchemy.exc import IntegrityError

from opencharacters import __version__
from opencharacters.api import ops
from opencharacters.api.bodies import BodyGate
from opencharacters.api.context import Services
from opencharacters.api.cors import BrowserCors
from opencharacters.api.errors import install_error_handlers
from opencharacters.api.failures import FailureAnswers
from opencharacters.api.metrics import ApiMetrics, HttpMetrics
from opencharacters.api.openapi import install_openapi
from opencharacters.api.preflight import check_storage
from opencharacters.api.ratelimit import make_limiter
from opencharacters.api.route_index import RouteIndex
from opencharacters.api.routers import (
    api_keys,
    avatar_presets,
    avatars,
    backends,
    conversations,
    documents,
    files,
    organization,
    portal,
    sdk,
    sessions,
    tasks,
    uploads,
    voice_presets,
    voices,
    webhooks,
    whip,
)
from opencharacters.background_cpu import BackgroundCpu
from opencharacters.blobs.factory import open_blob_store
from opencharacters.blobs.signing import UrlSigner
from opencharacters.dialogue.knowledge.service import KnowledgeBase
from opencharacters.engine.avatar_jobs import AvatarProcessor
from opencharacters.engine.background import JobScanner
from opencharacters.engine.scheduler import SessionScheduler
from opencharacters.engine.task_runner import TaskRunner
from opencharacters.engine.voice_jobs import VoiceProcessor
from opencharacters.presets.install import PresetAvatars
from opencharacters.settings import Settings
from opencharacters.store import job_leases
from opencharacters.store.accounts import DEFAULT_ORG, create_key, ensure_key, has_active_key
from opencharacters.store.db import Database
from opencharacters.store.sessions import fail_interrupted
from opencharacters.webhooks.dispatcher import WebhookDispatcher
from opencharacters.worker.gateway import WorkerGateway
from opencharacters.worker.recovery import RecordingRecovery
from opencharacters.worker.supervisor import WorkerSupervisor

log = logging.getLogger(__name__)


def build_services(settings: Settings) -> Services:
    settings.ensure_data_dir()
    db = Database(settings.resolved_database_url)
    blobs = open_blob_store(settings)
    # Background image, video, voice and knowledge-indexing work, one job at a time.
    cpu_gate = BackgroundCpu(settings.background_niceness)
    recovery = RecordingRecovery(settings.data_dir, db, blobs)
    scheduler = SessionScheduler(
        db,
        lease_s=settings.worker_lease_s,
        tick_s=settings.scheduler_tick_s,
        recover=recovery.recover,
    )
    knowledge = KnowledgeBase(db, settings.engines, background_cpu=cpu_gate)
    avatar_processor = AvatarProcessor(settings, db, blobs, cpu_gate)
    task_runner = TaskRunner(settings, db, blobs, cpu_gate)
    voice_processor = VoiceProcessor(settings, db, blobs, cpu_gate)
    return Services(
        settings=settings,
        db=db,
        blobs=blobs,
        background_cpu=cpu_gate,
        signer=UrlSigner(
            settings.resolved_secret_key,
            settings.resolved_public_url,
            settings.signed_url_ttl_s,
        ),
        rate_limiter=make_limiter(
            db, "org", settings.rate_limit_per_minute, settings.rate_limit_burst
        ),
        auth_failures=make_limiter(
            db, "auth", settings.auth_failures_per_minute, settings.auth_failures_per_minute
        ),
        scheduler=scheduler,
        avatar_processor=avatar_processor,
        task_runner=task_runner,
        workers=WorkerGateway(settings, db),
        recovery=recovery,
        voice_processor=voice_processor,
        knowledge=knowledge,
        webhooks=WebhookDispatcher(settings, db),
        presets=PresetAvatars(settings, db, blobs),
        job_scanner=JobScanner(
            db,
            settings.job_lease_s,
            [avatar_processor.rescan, task_runner.rescan, voice_processor.rescan],
        ),
    )


def announce_access(svc: Services) -> None:
    """Makes sure someone can authenticate, and says how."""
    settings = svc.settings
    key_file = settings.data_dir / "dev-api-key"
    with svc.db.session() as db:
        if settings.bootstrap_api_key:
            ensure_key(db, settings.bootstrap_api_key)
            key: str | None = None
            how = "the key in OPENCHARACTERS_BOOTSTRAP_API_KEY"
        elif settings.dev_key_file and key_file.exists():
            key = key_file.read_text().strip()
            ensure_key(db, key)
            how = f"the development key kept in {key_file}"
        elif not has_active_key(db):
            key, _ = create_key(db, DEFAULT_ORG, name="first start")
            how = "a new key (only its hash is stored; keep it now)"
            if settings.dev_key_file:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(key + "\n")
                how = f"a new development key, kept in {key_file} (owner-only)"
        else:
            key = None
            how = "an existing key (create one with: opencharacters keys create)"
    lines = [
        f"OpenCharacters {__version__} at {settings.resolved_public_url}",
        f"  API base URL: {settings.resolved_public_url}  (RUNWAYML_BASE_URL)",
        f"  Developer portal: {settings.resolved_public_url}/portal/",
        f"  Authenticate with {how}:",
    ]
    if key:
        lines.append(f"  RUNWAYML_API_SECRET={key}")
    print("\n".join(lines), flush=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Raises StartupProblem (one line for the operator) when the data directory is unusable."""
    settings = settings or Settings()
    check_storage(settings)
    svc = build_services(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        svc.db.migrate()
        try:
            announce_access(svc)
        except IntegrityError:
            # Another API node starting at the same moment made the same organization or key
            # first (unique constraints): what it made is what this one needed.
            announce_access(svc)
        with svc.db.session() as db:
            failed = fail_interrupted(db)
        if failed:
            log.warning("marked %d sessions FAILED that were active before a restart", failed)
        recovered = await asyncio.to_thread(svc.recovery.recover_orphans)
        if recovered:
            log.warning("recovered %d recordings of calls that crashed", recovered)
        if svc.db.engine.dialect.name == "sqlite":
            with svc.db.session() as db:
                job_leases.forget_all(db)
        svc.avatar_processor.resume_unfinished()
        svc.task_runner.resume_unfinished()
        svc.voice_processor.resume_unfinished()
        supervisor = WorkerSupervisor(settings, svc.db, settings.media_workers)
        await supervisor.start()
        svc.scheduler.start()
        svc.webhooks.start()
        svc.job_scanner.start()
        try:
            yield
        finally:
            await supervisor.stop()
            await svc.job_scanner.stop()
            await svc.workers.close()
            await svc.scheduler.stop()
            await svc.avatar_processor.stop()
            await svc.task_runner.stop()
            await svc.voice_processor.stop()
            await svc.knowledge.stop()
            await svc.webhooks.stop()
            svc.background_cpu.close()
            svc.db.dispose()

    app = FastAPI(
        title="OpenCharacters API",
        version=__version__,
        description=(
            "Self-hosted, Runway-compatible Characters API: avatars, custom voices, documents, "
            "realtime sessions, conversations, usage and uploads. Point Runway's SDKs at this "
            "server by changing the base URL."
        ),
        lifespan=lifespan,
    )
    app.state.services = svc
    app.state.metrics = ApiMetrics(svc.db, settings.worker_lease_s)
    install_error_handlers(app)
    install_openapi(app)
    routers = [
        module.router
        for module in (
            avatars,
            avatar_presets,
            documents,
            sessions,
            conversations,
            uploads,
            files,
            voice_presets,
            voices,
            tasks,
            whip,
            backends,
            api_keys,
            organization,
            webhooks,
            sdk,
            portal,
            ops,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.state.route_index = RouteIndex(route for router in routers for route in router.routes)
    # Outermost last: CORS headers on every answer, then failures answered (500/507) without
    # dropping the connection, then the body gate (authentication before any body is read).
    app.add_middleware(BodyGate)
    app.add_middleware(FailureAnswers)
    app.add_middleware(BrowserCors)
    # Outside everything: counts every answer, the refused and the failed ones included.
    app.add_middleware(HttpMetrics, metrics=app.state.metrics, routes=lambda: app.state.route_index)

    @app.get("/health", tags=["meta"], summary="Liveness")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/portal/")

    return app
