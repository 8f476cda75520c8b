"""The services one server process shares between requests."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from opencharacters.api.ratelimit import Limiter
from opencharacters.background_cpu import BackgroundCpu
from opencharacters.blobs.signing import UrlSigner
from opencharacters.blobs.store import BlobStore
from opencharacters.dialogue.knowledge.service import KnowledgeBase
from opencharacters.engine.avatar_jobs import AvatarProcessor
from opencharacters.engine.background import JobScanner
from opencharacters.engine.scheduler import SessionScheduler
from opencharacters.engine.task_runner import TaskRunner
from opencharacters.engine.voice_jobs import VoiceProcessor
from opencharacters.presets.install import PresetAvatars
from opencharacters.settings import Settings
from opencharacters.store.db import Database
from opencharacters.webhooks.dispatcher import WebhookDispatcher
from opencharacters.worker.gateway import WorkerGateway
from opencharacters.worker.recovery import RecordingRecovery


@dataclass
class Services:
    settings: Settings
    db: Database
    blobs: BlobStore
    background_cpu: BackgroundCpu
    """One background job at a time, below the calls (avatar images and videos, voices)."""
    signer: UrlSigner
    rate_limiter: Limiter
    auth_failures: Limiter
    """Failed authentications per client address."""
    scheduler: SessionScheduler
    avatar_processor: AvatarProcessor
    task_runner: TaskRunner
    workers: WorkerGateway
    """The media workers that run the calls: signalling and call control are forwarded there."""
    recovery: RecordingRecovery
    voice_processor: VoiceProcessor
    knowledge: KnowledgeBase
    """Avatars' knowledge indexes (built here; each media worker searches its own copy)."""
    webhooks: WebhookDispatcher
    presets: PresetAvatars
    """The nine preset characters, made READY avatars on first use."""
    job_scanner: JobScanner
    """Claims the background jobs of API processes that died (several API nodes)."""

    def blob_url(self, key: str | None, ttl_s: int | None = None) -> str | None:
        """An expiring link to a blob: the store's own presigned URL where it has one (S3),
        else this server's signed /v1/files link."""
        if not key:
            return None
        ttl = ttl_s or self.settings.signed_url_ttl_s
        return self.blobs.presigned_url(key, ttl) or self.signer.blob_url(key, ttl)


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found
