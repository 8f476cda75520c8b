"""A worker's call metrics: outcome counts, turn latency and frame rate, one sample per call."""

from __future__ import annotations

import pytest
from prometheus_client import generate_latest

from opencharacters.engine.live.call_metrics import CallMetrics
from opencharacters.pipeline.call import Ending, Outcome

pytestmark = pytest.mark.unit


def value(metrics: CallMetrics, name: str, labels: dict[str, str] | None = None) -> float:
    found = metrics.registry.get_sample_value(name, labels or {})
    assert found is not None, generate_latest(metrics.registry).decode()
    return found


def test_a_calls_end_is_counted_with_its_turns_and_frame_rate() -> None:
    metrics = CallMetrics()
    stats = {
        "videoFramesSent": 500,
        "turns": [{"firstAudioS": 0.8}, {"firstAudioS": 1.7}, {"firstAudioS": None}],
    }
    metrics.call_ended(Ending(Outcome.COMPLETED, "hung up"), stats, duration_s=20.0)
    metrics.call_ended(
        Ending(Outcome.FAILED, "lost", failure="no peer", failure_code="CONNECTION_TIMEOUT"),
        {"videoFramesSent": 0, "turns": []},
        duration_s=0.0,
    )
    ended = "opencharacters_calls_ended_total"
    assert value(metrics, ended, {"outcome": "COMPLETED", "code": ""}) == 1
    assert value(metrics, ended, {"outcome": "FAILED", "code": "CONNECTION_TIMEOUT"}) == 1
    assert value(metrics, "opencharacters_turn_latency_seconds_count") == 2
    assert value(metrics, "opencharacters_turn_latency_seconds_sum") == pytest.approx(2.5)
    assert value(metrics, "opencharacters_turn_latency_seconds_bucket", {"le": "1.0"}) == 1
    # 500 frames in 20 s; the call without frames adds no sample.
    assert value(metrics, "opencharacters_call_video_fps_count") == 1
    assert value(metrics, "opencharacters_call_video_fps_sum") == pytest.approx(25.0)
