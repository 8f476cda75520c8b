"""One settings object for the whole product, read from flags and OPENCHARACTERS_* variables."""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from opencharacters.capacity import default_session_capacity
from opencharacters.engine_settings import EngineSettings


class IceServer(BaseModel):
    urls: str | list[str]
    username: str | None = None
    credential: str | None = None


class LiveKitSettings(BaseModel):
    """A LiveKit server the calls meet their callers in (OPENCHARACTERS_TRANSPORT=livekit)."""

    url: str | None = None
    """Its signalling URL as callers reach it, e.g. wss://livekit.example.org (ws:// locally)."""
    api_key: str | None = None
    api_secret: str | None = None
    token_ttl_s: int = Field(default=600, ge=30, le=24 * 3600)
    """How long the caller's token from consume may be used to join (a joined caller stays)."""

    @field_validator("url")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.rstrip("/")
        if not value.startswith(("ws://", "wss://", "http://", "https://")):
            raise ValueError(f"must start with ws://, wss://, http:// or https:// (got {value!r})")
        return value


class S3Settings(BaseModel):
    """The bucket blobs live in when OPENCHARACTERS_BLOB_STORE=s3, e.g.
    OPENCHARACTERS_S3__BUCKET=avatars OPENCHARACTERS_S3__ENDPOINT_URL=http://10.0.0.5:7070."""

    bucket: str = ""
    endpoint_url: str | None = None
    """None: AWS itself. Any S3-compatible server otherwise (versitygw, Ceph RGW, Garage...)."""
    public_endpoint_url: str | None = None
    """Where callers reach the server, when it differs from endpoint_url (presigned URLs use it)."""
    region: str = "us-east-1"
    access_key_id: str | None = None
    """None (with secret_access_key): boto3's usual chain (AWS_* variables, instance role)."""
    secret_access_key: str | None = None
    path_style: bool = False
    """http://host/bucket/key rather than http://bucket.host/key: what local servers need."""
    multipart_threshold_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    """Files larger than this (recordings, videos) go up in parallel parts of this size."""


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("opencharacters"))


class Settings(BaseSettings):
    """Everything the server reads at start-up. Nested engine settings use `__`:
    e.g. OPENCHARACTERS_ENGINES__ASR__LANGUAGE=de."""

    model_config = SettingsConfigDict(
        env_prefix="OPENCHARACTERS_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    blob_store: Literal["filesystem", "s3"] = "filesystem"
    blob_dir: Path | None = None
    """The filesystem store's root (default: <data_dir>/blobs)."""
    s3: S3Settings = Field(default_factory=S3Settings)
    public_url: str | None = None
    bootstrap_api_key: str | None = None
    # `make run`: keep the first start's key in the data directory and print it every start.
    dev_key_file: bool = False
    secret_key: str | None = None
    log_format: Literal["text", "json"] = "text"
    """json: one object a line (time, level, logger, message, session_id) for log pipelines."""

    # Fetching reference images and audio from https:// URLs.
    fetch_allow_private: bool = False
    """Development only: fetch from any address, loopback and private networks included."""
    fetch_allow_networks: list[str] = Field(default_factory=list)
    """Non-public networks fetches may reach anyway, e.g. '["10.20.0.0/16"]' for an internal
    image host. Everything else must be a public address."""
    fetch_ports: str = "443,8443"
    """Ports fetches may connect to, comma-separated, or '*' for any."""
    fetch_ca_bundle: Path | None = None
    fetch_timeout_s: float = Field(default=15.0, gt=0)
    fetch_max_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    upload_max_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    upload_ttl_s: int = Field(default=24 * 3600, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)

    # Signed URLs for previews, recordings and uploads.
    signed_url_ttl_s: int = Field(default=24 * 3600, gt=0)

    # Avatar image processing.
    output_width: int = Field(default=1088, ge=64, le=4096)
    output_height: int = Field(default=704, ge=64, le=4096)
    preview_max_side: int = Field(default=512, ge=32, le=4096)

    # Sessions.
    session_capacity: int = Field(default_factory=default_session_capacity)
    """Calls per media worker: one per two usable cores (see capacity.py for the measurement)."""
    session_ready_ttl_s: int = Field(default=300, ge=5)
    scheduler_tick_s: float = Field(default=0.5, gt=0)

    # Media workers (processes that run the calls; `serve` supervises `media_workers` of them).
    media_workers: int = Field(default=1, ge=0, le=64)
    worker_lease_s: float = Field(default=10.0, ge=1.0)
    """A worker silent this long is lost: its sessions FAIL (WORKER_LOST) where they stopped."""
    job_lease_s: float = Field(default=30.0, ge=1.0)
    """A background job (avatar, voice, video) whose API process stopped renewing its lease for
    this long is claimed by another API process on the same database and run there."""
    worker_heartbeat_s: float = Field(default=0.5, gt=0)
    """Lease renewal, call-alive mark and check for calls ended elsewhere, this often."""
    worker_claim_poll_s: float = Field(default=0.25, gt=0)
    """Waiting sessions are looked for this often (and at once when an API process says so)."""

    # Live calls (WebRTC).
    transport: Literal["whip", "livekit"] = "whip"
    """How callers reach a call: WHIP straight to the media worker (embedded, nothing else to
    run), or a room on a LiveKit server (`livekit`; what Runway's browser SDK speaks)."""
    livekit: LiveKitSettings = Field(default_factory=LiveKitSettings)
    ice_servers: list[IceServer] = Field(default_factory=list)
    """STUN/TURN servers for the server's peer, e.g. OPENCHARACTERS_ICE_SERVERS=
    '[{"urls": "stun:stun.example.org:3478"}]'. Empty: host candidates only, nothing contacted."""
    media_advertise_address: str | None = None
    """The IP address callers' media reaches this worker at (`opencharacters worker
    --advertise-address`): WHIP answers offer only candidates on it, or, when the machine has no
    interface with it (1:1 NAT), offer the host candidates under it. Empty: every interface."""
    connect_timeout_s: float = Field(default=20.0, gt=0)
    """From the WHIP offer to a connected peer (LiveKit: from consume to the caller in the room);
    past it the session FAILS (CONNECTION_TIMEOUT)."""
    video_fps: int = Field(default=25, ge=1, le=60)
    record_sessions: bool = True
    recording_niceness: int = Field(default=10, ge=0, le=19)
    """How much lower than the call's other threads the recording's encoder runs: in a busy
    moment the caller's answer and the live media go first and the file catches up later
    (docs/live.md, "The recording yields"). 0: the same priority."""
    background_niceness: int = Field(default=10, ge=0, le=19)
    """How much lower than the rest of the API process its background jobs run (avatar
    images, avatar videos, custom voices): on a box shared with media workers, a call's answer
    goes first and the job takes what is left (background_cpu.py). 0: the same priority."""
    preload_engines: bool = True
    """Load the speech and dialogue models at start-up, so the first call does not wait."""

    # Per-organization limits.
    rate_limit_per_minute: int = Field(default=600, ge=1)
    rate_limit_burst: int = Field(default=100, ge=1)
    max_concurrent_sessions_per_org: int = Field(default=10, ge=1)
    """The default for organizations without their own limit (`opencharacters orgs limits`);
    the next three are unlimited unless set, here or per organization."""
    max_sessions_per_day_per_org: int | None = Field(default=None, ge=0)
    max_session_minutes_per_month_per_org: int | None = Field(default=None, ge=0)
    max_avatar_videos_per_day_per_org: int | None = Field(default=None, ge=0)
    max_api_keys_per_org: int = Field(default=100, ge=1)
    """Active (unrevoked) API keys one organization may hold."""
    auth_failures_per_minute: int = Field(default=30, ge=1)
    """Requests with an unknown API key or a wrong session key or media token, per client
    address; past it (and a burst of as many) the address gets 429 until its allowance refills."""

    # Webhooks (extension): delivery from the outbox.
    webhook_allow_private: bool = False
    """Deliver to loopback and private addresses (a receiver on this machine or the LAN)."""
    webhook_timeout_s: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1, le=30)
    webhook_retry_base_s: float = Field(default=5.0, gt=0)
    """Back-off: the n-th retry waits base * 2^(n-1), at most webhook_retry_max_s."""
    webhook_retry_max_s: float = Field(default=3600.0, gt=0)
    webhook_poll_s: float = Field(default=1.0, gt=0)
    webhook_concurrency: int = Field(default=8, ge=1, le=100)
    webhook_retention_days: int = Field(default=30, ge=1)
    """Delivered and given-up events (and their log) are forgotten after this many days."""

    engines: EngineSettings = Field(default_factory=EngineSettings)

    @model_validator(mode="after")
    def _livekit_configured(self) -> Settings:
        if self.transport == "livekit":
            missing = [
                f"OPENCHARACTERS_LIVEKIT__{name.upper()}"
                for name in ("url", "api_key", "api_secret")
                if not getattr(self.livekit, name)
            ]
            if missing:
                raise ValueError(f"transport 'livekit' needs {', '.join(missing)}")
        return self

    @field_validator("media_advertise_address")
    @classmethod
    def _an_ip_address(cls, value: str | None) -> str | None:
        if not value:
            return None
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise ValueError(
                f"media_advertise_address must be an IP address (callers' media is sent there), "
                f"not {value!r}"
            ) from None

    @field_validator("fetch_allow_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network.strip(), strict=False)  # ValueError names the bad one
        return value

    @field_validator("fetch_ports")
    @classmethod
    def _ports(cls, value: str) -> str:
        if value.strip() != "*":
            ports = [part.strip() for part in value.split(",") if part.strip()]
            if not ports or not all(p.isdigit() and 0 < int(p) < 65536 for p in ports):
                raise ValueError(f"must be '*' or comma-separated ports 1..65535 (got {value!r})")
        return value

    @model_validator(mode="after")
    def _s3_bucket(self) -> Settings:
        if self.blob_store == "s3" and not self.s3.bucket:
            raise ValueError("OPENCHARACTERS_BLOB_STORE=s3 needs OPENCHARACTERS_S3__BUCKET")
        return self

    @field_validator("public_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @cached_property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'opencharacters.db'}"

    @cached_property
    def resolved_blob_dir(self) -> Path:
        return self.blob_dir or self.data_dir / "blobs"

    @cached_property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def ensure_data_dir(self) -> None:
        # Owner-only: it holds the database, the URL-signing secret and the dev key.
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    @cached_property
    def resolved_secret_key(self) -> bytes:
        """The key that signs URLs: configured, else created once in the data directory."""
        if self.secret_key:
            return self.secret_key.encode()
        self.ensure_data_dir()
        path = self.data_dir / "secret.key"
        if not path.exists():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(os.urandom(32).hex())
        return path.read_text().strip().encode()
