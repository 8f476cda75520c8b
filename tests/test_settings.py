"""Settings that must be refused at start-up, with the variable named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from opencharacters.settings import S3Settings, Settings

pytestmark = pytest.mark.unit


def test_the_s3_store_needs_a_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENCHARACTERS_S3__BUCKET", raising=False)
    monkeypatch.setenv("OPENCHARACTERS_BLOB_STORE", "s3")
    with pytest.raises(ValidationError, match="OPENCHARACTERS_S3__BUCKET"):
        Settings()
    monkeypatch.setenv("OPENCHARACTERS_S3__BUCKET", "avatars")
    assert Settings().s3.bucket == "avatars"


def test_multipart_parts_are_at_least_what_s3_accepts() -> None:
    """S3 refuses parts under 5 MiB (all but the last), so a smaller threshold is refused here."""
    with pytest.raises(ValidationError, match="multipart_threshold_bytes"):
        S3Settings(bucket="b", multipart_threshold_bytes=5 * 1024 * 1024 - 1)
    assert S3Settings(bucket="b", multipart_threshold_bytes=5 * 1024 * 1024)


@pytest.mark.parametrize("value", ["-1", "20"])
def test_a_background_niceness_outside_what_linux_has_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """Nice values run 0..19 below a process's own; another value is a typo, not a wish."""
    monkeypatch.setenv("OPENCHARACTERS_BACKGROUND_NICENESS", value)
    with pytest.raises(ValidationError, match="background_niceness"):
        Settings()
    monkeypatch.setenv("OPENCHARACTERS_BACKGROUND_NICENESS", "19")
    assert Settings().background_niceness == 19
