"""Prometheus metrics of the calls one media worker ran (its /metrics): how quickly the avatar
answered, the frame rate callers got, how calls ended. Observed once per call, at its end."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from opencharacters.pipeline.call import Ending


class CallMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.active = Gauge(
            "opencharacters_worker_calls",
            "Calls running in this worker now.",
            registry=self.registry,
        )
        self.ended = Counter(
            "opencharacters_calls_ended",
            "Calls this worker ended, by outcome and failure code ('' when none).",
            ["outcome", "code"],
            registry=self.registry,
        )
        self.turn_latency = Histogram(
            "opencharacters_turn_latency_seconds",
            "From the end of the caller's speech to the avatar's first audio heard.",
            buckets=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0),
            registry=self.registry,
        )
        self.persona_read_ahead = Histogram(
            "opencharacters_persona_read_ahead_seconds",
            "Reading a persona before a call needed it: when a session was claimed (near 0: "
            "read before), or in an idle moment after its avatar was saved.",
            ["trigger"],
            buckets=(0.05, 0.25, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0),
            registry=self.registry,
        )
        self.fps = Histogram(
            "opencharacters_call_video_fps",
            "Video frames sent per second of call, one sample per call.",
            buckets=(5, 10, 15, 20, 22, 24, 25, 30, 60),
            registry=self.registry,
        )

    def call_ended(self, ending: Ending, stats: dict[str, Any], duration_s: float) -> None:
        self.ended.labels(ending.outcome.value, ending.failure_code or "").inc()
        for turn in stats.get("turns", []):
            latency = turn.get("firstAudioS")
            if isinstance(latency, int | float) and latency >= 0:
                self.turn_latency.observe(latency)
        frames = stats.get("videoFramesSent")
        if isinstance(frames, int) and frames and duration_s >= 1.0:
            self.fps.observe(frames / duration_s)
