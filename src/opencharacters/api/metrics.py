"""Prometheus metrics of one API process: its HTTP traffic, and the deployment's sessions and
workers as the database has them (read at each scrape, so every API node reports the same)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opencharacters.api.route_index import RouteIndex
from opencharacters.store.db import Database
from opencharacters.store.stats import OpsSnapshot, ops_snapshot

UNMATCHED = "unmatched"
"""The route label of requests no API route answers (404s, the portal's files, /health):
never the raw path, whose values are unbounded."""


class DeploymentCollector(Collector):
    def __init__(self, db: Database, lease_s: float) -> None:
        self._db = db
        self._lease_s = lease_s

    def _snapshot(self) -> OpsSnapshot:
        with self._db.session() as db:
            return ops_snapshot(db, self._lease_s)

    def collect(self) -> Iterator[Metric]:
        snap = self._snapshot()
        sessions = GaugeMetricFamily(
            "opencharacters_sessions", "Realtime sessions by status.", labels=["status"]
        )
        for status, count in sorted(snap.sessions_by_status.items()):
            sessions.add_metric([status], count)
        yield sessions
        failed = GaugeMetricFamily(
            "opencharacters_sessions_failed",
            "FAILED sessions by failure code.",
            labels=["code"],
        )
        for code, count in sorted(snap.failures_by_code.items()):
            failed.add_metric([code], count)
        yield failed
        yield GaugeMetricFamily(
            "opencharacters_session_queue_length",
            "Sessions waiting for a media worker to claim them.",
            value=snap.queue_length,
        )
        yield GaugeMetricFamily(
            "opencharacters_media_workers",
            "Media workers holding a lease.",
            value=snap.live_workers,
        )
        yield GaugeMetricFamily(
            "opencharacters_worker_slots_total",
            "Call slots of the live media workers.",
            value=snap.slots_total,
        )
        yield GaugeMetricFamily(
            "opencharacters_worker_slots_free",
            "Call slots no READY or RUNNING session holds.",
            value=max(0, snap.slots_total - snap.slots_held),
        )


class ApiMetrics:
    def __init__(self, db: Database, lease_s: float) -> None:
        self.registry = (
            CollectorRegistry()
        )  # no describe-by-collecting: the database is not migrated yet
        self.requests = Counter(
            "opencharacters_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "opencharacters_http_request_duration_seconds",
            "Time to the end of the answer, by route template and method.",
            ["method", "route"],
            registry=self.registry,
        )
        self.registry.register(DeploymentCollector(db, lease_s))


class HttpMetrics:
    """ASGI middleware: counts each HTTP answer under its route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: Callable[[], RouteIndex]) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        route = self.routes().route_for(scope)
        label = route.path if route is not None else UNMATCHED
        method = scope.get("method", "GET")
        started = time.perf_counter()
        status = 500

        async def counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counted)
        finally:
            self.metrics.requests.labels(method, label, str(status)).inc()
            self.metrics.latency.labels(method, label).observe(time.perf_counter() - started)
