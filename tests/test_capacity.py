"""The default number of calls per worker follows the cores this process may really use."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencharacters import capacity

pytestmark = pytest.mark.unit


@pytest.fixture
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(capacity.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(capacity.os, "cpu_count", lambda: 64)


@pytest.mark.usefixtures("four_cores")
def test_the_affinity_counts_not_the_hosts_cores(tmp_path: Path) -> None:
    assert capacity.usable_cores(tmp_path / "no-cgroup") == 4


@pytest.mark.usefixtures("four_cores")
@pytest.mark.parametrize(
    ("cpu_max", "cores"),
    [
        ("max 100000", 4),
        ("150000 100000", 1),
        ("200000 100000", 2),
        ("900000 100000", 4),
        ("garbage", 4),
    ],
)
def test_a_cgroup_quota_lowers_the_count(tmp_path: Path, cpu_max: str, cores: int) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max + "\n")
    assert capacity.usable_cores(path) == cores


@pytest.mark.parametrize(("cores", "calls"), [(1, 1), (2, 1), (3, 1), (4, 2), (16, 8)])
def test_one_call_per_two_cores(monkeypatch: pytest.MonkeyPatch, cores: int, calls: int) -> None:
    monkeypatch.setattr(capacity, "usable_cores", lambda: cores)
    assert capacity.default_session_capacity() == calls
