from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import S3Server, running_s3
from tests.support.server import POSTGRES_ENV, postgres_database

BACKENDS = ["sqlite", "postgresql"]


LAYERS = ("unit", "integration", "e2e", "browser")
"""Each test is one of these (pyproject.toml says what each means); `make test-fast` runs two."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    check_layers(items)
    for item in items:
        if "[postgresql" in item.nodeid:
            item.add_marker(pytest.mark.postgres)
    if os.environ.get(POSTGRES_ENV):
        run_once_on_postgresql(config, items)
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"CI must set {POSTGRES_ENV}: the suite runs on PostgreSQL too")
    skip = pytest.mark.skip(reason=f"set {POSTGRES_ENV} to run against PostgreSQL")
    for item in items:
        if "postgresql" in item.keywords or "[postgresql" in item.nodeid:
            item.add_marker(skip)


def run_once_on_postgresql(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `one_database` (a voice cloned, an SDK driven, a worker killed: the store
    only keeps their results) run on PostgreSQL alone; the store's own behaviour, and every flow
    whose SQL differs, is tested on both."""
    once = [item for item in items if _database_of(item) == "sqlite" and _runs_once(item)]
    if once:
        config.hook.pytest_deselected(items=once)
        dropped = set(once)
        items[:] = [item for item in items if item not in dropped]


def _runs_once(item: pytest.Item) -> bool:
    return item.get_closest_marker("one_database") is not None


def _database_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("database_url")


def check_layers(items: list[pytest.Item]) -> None:
    """Every test carries exactly one layer marker, usually as its module's `pytestmark`."""
    wrong: dict[str, list[str]] = {}
    for item in items:
        layers = sorted({mark.name for mark in item.iter_markers() if mark.name in LAYERS})
        if len(layers) != 1:
            wrong.setdefault(item.nodeid.split("::")[0], layers)
    if wrong:
        lines = [f"  {module}: {', '.join(found) or 'none'}" for module, found in wrong.items()]
        raise pytest.UsageError(
            f"each test needs exactly one layer marker ({', '.join(LAYERS)}), e.g. "
            "`pytestmark = pytest.mark.unit`; these modules have:\n" + "\n".join(lines)
        )


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database of each kind; SQLite lives in a temp folder."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "test.db"
        yield f"sqlite:///{path}"
        return
    if not os.environ.get(POSTGRES_ENV):
        pytest.skip(f"set {POSTGRES_ENV} to run against PostgreSQL")
    with postgres_database() as url:
        yield url


@pytest.fixture
def tmp_data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A real S3-compatible server (versitygw) on loopback; skips without it, fails in CI."""
    with running_s3(tmp_path_factory.mktemp("s3")) as server:
        yield server
