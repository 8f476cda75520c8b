from __future__ import annotations

import pytest

from opencharacters.domain.errors import BadRequest
from opencharacters.ingest.fetch import FetchError, fetch_https, is_public_address
from opencharacters.ingest.sources import decode_data_uri


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public


async def test_only_https_is_fetched() -> None:
    with pytest.raises(FetchError, match="https"):
        await fetch_https("http://example.com/a.png", max_bytes=10, timeout_s=1)


async def test_literal_private_addresses_are_refused_before_connecting() -> None:
    with pytest.raises(FetchError, match="private"):
        await fetch_https("https://10.0.0.1/a.png", max_bytes=10, timeout_s=1)


def test_data_uris() -> None:
    assert decode_data_uri("data:image/png;base64,aGVsbG8=", "f") == (b"hello", "image/png")
    assert decode_data_uri("data:image/svg+xml,%3Csvg%3E", "f") == (b"<svg>", "image/svg+xml")
    for bad in ("data:image/png;base64,@@", "data:nothing", "data:image/png;base64,"):
        with pytest.raises(BadRequest):
            decode_data_uri(bad, "f")
