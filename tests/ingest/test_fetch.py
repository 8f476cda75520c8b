"""fetch_https against real https servers: every redirect hop is vetted before it is connected.

The "public" image host is a TLS server on 127.0.0.2 (the policy trusts exactly that address,
as an operator would trust an internal host); the "internal service" is a listener on 127.0.0.1
and ::1 that counts connections. No test may leave a connection on it."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from opencharacters.domain.errors import BadRequest
from opencharacters.ingest.fetch import (
    FetchError,
    FetchPolicy,
    VettedResolver,
    fetch_https,
    is_public_address,
    parse_ports,
)
from opencharacters.ingest.sources import decode_data_uri
from tests.support.media import FACE_JPEG
from tests.support.tls import TlsHost, Trap, tls_host, trap_listener

pytestmark = pytest.mark.integration

HOST_ADDRESS = "127.0.0.2"


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("64:ff9b::808:808", True),  # NAT64 of a public address (DNS64 networks)
        ("2002:808:808::1", True),  # 6to4 of a public address
        ("::ffff:8.8.8.8", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("198.18.0.1", False),
        ("192.0.0.1", False),
        ("224.0.0.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%2", False),
        ("fc00::1", False),
        ("fd12:3456::1", False),
        ("fec0::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:169.254.169.254", False),
        ("::7f00:1", False),  # IPv4-compatible loopback
        ("::8.8.8.8", False),  # IPv4-compatible: deprecated, refused whatever it holds
        ("64:ff9b::7f00:1", False),  # NAT64 of loopback
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of the metadata address
        ("64:ff9b:1::808:808", False),  # local-use NAT64
        ("2002:7f00:1::", False),  # 6to4 of loopback
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", False),  # Teredo
        ("2001:db8::1", False),  # documentation
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_policy_trusts_only_the_networks_it_names() -> None:
    policy = FetchPolicy(allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert policy.address_allowed("10.20.3.4")
    assert not policy.address_allowed("10.21.0.1")
    assert not policy.address_allowed("::ffff:10.21.0.1")
    assert FetchPolicy(allow_private=True).address_allowed("127.0.0.1")


def test_port_lists() -> None:
    assert parse_ports("443, 8443") == {443, 8443}
    assert parse_ports("*") is None
    for bad in ("", "0", "65536", "http"):
        with pytest.raises(ValueError):
            parse_ports(bad)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsHost]:
    with tls_host(
        tmp_path_factory.mktemp("tls"), address=HOST_ADDRESS, names=("images.test",)
    ) as running:
        running.routes["/face.jpg"] = (200, FACE_JPEG.read_bytes(), "image/jpeg")
        running.routes["/big.bin"] = (200, b"x" * 5000, "application/octet-stream")
        yield running


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    with trap_listener() as listening:
        yield listening


def _policy(host: TlsHost, trap: Trap) -> FetchPolicy:
    # The trap's port is allowed, so every refusal below is the address rule's doing.
    return FetchPolicy(
        allowed_networks=(ipaddress.ip_network(f"{HOST_ADDRESS}/32"),),
        allowed_ports=frozenset({host.port, trap.port}),
    )


async def _fetch(
    url: str,
    host: TlsHost,
    trap: Trap,
    *,
    max_bytes: int = 1_000_000,
    max_redirects: int = 5,
    resolver: AbstractResolver | None = None,
) -> bytes:
    body, _ = await fetch_https(
        url,
        max_bytes=max_bytes,
        timeout_s=5,
        policy=_policy(host, trap),
        ca_bundle=host.ca_bundle,
        max_redirects=max_redirects,
        resolver=resolver,
    )
    return body


async def test_a_trusted_host_is_fetched_directly_and_through_redirects(
    host: TlsHost, trap: Trap
) -> None:
    host.redirects["/moved"] = (302, "/face.jpg")
    host.redirects["/moved-twice"] = (307, f"{host.base_url}/moved")
    for path in ("/face.jpg", "/moved", "/moved-twice"):
        assert await _fetch(f"{host.base_url}{path}", host, trap) == FACE_JPEG.read_bytes()
    assert trap.connections == []


INTERNAL_TARGETS = [
    "https://127.0.0.1:{port}/internal-face.jpg",
    "https://localhost:{port}/internal-face.jpg",
    "https://0.0.0.0:{port}/",
    "https://[::]:{port}/",
    "https://[::1]:{port}/",
    "https://[::ffff:127.0.0.1]:{port}/",
    "https://[::ffff:7f00:1]:{port}/",
    "https://[::7f00:1]:{port}/",
    "https://[64:ff9b::7f00:1]:{port}/",
    "https://[2002:7f00:1::]:{port}/",
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]:{port}/",
    "https://169.254.169.254:{port}/latest/meta-data/",
    "https://[fe80::1]:{port}/",
    "https://10.0.0.1:{port}/",
    "https://192.168.0.1:{port}/",
]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("target", INTERNAL_TARGETS)
async def test_redirects_to_internal_addresses_are_refused_before_connecting(
    host: TlsHost, trap: Trap, target: str, status: int
) -> None:
    location = target.format(port=trap.port)
    path = f"/to/{status}/{abs(hash(location))}"
    host.redirects[path] = (status, location)
    with pytest.raises(FetchError) as refused:
        await _fetch(f"{host.base_url}{path}", host, trap)
    assert str(refused.value) == "redirected to a non-public address"
    assert trap.connections == []


async def test_internal_address_after_several_hops_is_refused(host: TlsHost, trap: Trap) -> None:
    host.redirects["/hop1"] = (302, "/hop2")
    host.redirects["/hop2"] = (301, f"https://{HOST_ADDRESS}:{host.port}/hop3")
    host.redirects["/hop3"] = (308, f"https://127.0.0.1:{trap.port}/internal-face.jpg")
    with pytest.raises(FetchError, match="redirected to a non-public address"):
        await _fetch(f"{host.base_url}/hop1", host, trap)
    assert trap.connections == []


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("http://127.0.0.1:{port}/latest/meta-data/", "redirected to a non-https URL"),
        ("http://{host}/face.jpg", "redirected to a non-https URL"),
        ("ftp://127.0.0.1:{port}/", "redirected to a non-https URL"),
        ("https://{address}:1/face.jpg", "redirected to port 1, which is not allowed"),
    ],
)
async def test_redirects_with_a_forbidden_scheme_or_port(
    host: TlsHost, trap: Trap, location: str, reason: str
) -> None:
    path = f"/bad/{abs(hash(location))}"
    host.redirects[path] = (
        302,
        location.format(port=trap.port, host=host.base_url[8:], address=HOST_ADDRESS),
    )
    with pytest.raises(FetchError) as refused:
        await _fetch(f"{host.base_url}{path}", host, trap)
    assert reason in str(refused.value)
    assert trap.connections == []


@pytest.mark.parametrize("target", ["https://2130706433:{port}/", "https://127.1:{port}/"])
async def test_legacy_numeric_forms_never_connect(host: TlsHost, trap: Trap, target: str) -> None:
    path = f"/numeric/{abs(hash(target))}"
    host.redirects[path] = (302, target.format(port=trap.port))
    with pytest.raises(FetchError):
        await _fetch(f"{host.base_url}{path}", host, trap)
    assert trap.connections == []


async def test_redirect_loops_end(host: TlsHost, trap: Trap) -> None:
    host.redirects["/loop"] = (302, "/loop")
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await _fetch(f"{host.base_url}/loop", host, trap, max_redirects=3)


async def test_errors_do_not_reveal_what_answered(host: TlsHost, trap: Trap) -> None:
    """Status codes, refused connections and certificate errors all read the same way."""
    with pytest.raises(FetchError) as missing:
        await _fetch(f"{host.base_url}/missing.png", host, trap)
    assert str(missing.value) == "the server did not answer with the file"
    closed_port = FetchPolicy(allowed_networks=(ipaddress.ip_network(f"{HOST_ADDRESS}/32"),))
    with pytest.raises(FetchError) as refused:
        await fetch_https(
            f"https://{HOST_ADDRESS}:8443/x", max_bytes=10, timeout_s=5, policy=closed_port
        )
    assert str(refused.value) == "could not connect to the server"
    with pytest.raises(FetchError) as untrusted:  # the system CAs do not know the test CA
        await fetch_https(
            f"{host.base_url}/face.jpg", max_bytes=10, timeout_s=5, policy=_policy(host, trap)
        )
    assert str(untrusted.value) == "could not connect to the server"
    with pytest.raises(FetchError) as big:
        await _fetch(f"{host.base_url}/big.bin", host, trap, max_bytes=4000)
    assert str(big.value) == "the file is larger than the limit of 4000 bytes"


class FixedResolver(AbstractResolver):
    """Answers every name with fixed addresses, the way a hostile DNS server would."""

    def __init__(self, *addresses: str) -> None:
        self.addresses = addresses

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass


async def test_names_connect_only_to_the_vetted_addresses(host: TlsHost, trap: Trap) -> None:
    url = f"https://images.test:{host.port}/face.jpg"
    body = await _fetch(url, host, trap, resolver=FixedResolver(HOST_ADDRESS))
    assert body == FACE_JPEG.read_bytes()
    for answer in [("127.0.0.1",), (HOST_ADDRESS, "127.0.0.1"), ("::1",), ("::ffff:127.0.0.1",)]:
        with pytest.raises(FetchError) as refused:
            await _fetch(
                f"https://images.test:{trap.port}/", host, trap, resolver=FixedResolver(*answer)
            )
        assert str(refused.value) == "the URL's host name resolves to a non-public address"
    host.redirects["/to-name"] = (302, f"https://internal.test:{trap.port}/")
    with pytest.raises(FetchError, match="redirected to a non-public address"):
        await _fetch(
            f"{host.base_url}/to-name",
            host,
            trap,
            resolver=FixedResolver("127.0.0.1"),
        )
    assert trap.connections == []


async def test_the_resolver_refuses_any_private_answer() -> None:
    resolver = VettedResolver(FetchPolicy(), FixedResolver("8.8.8.8", "10.0.0.1"))
    with pytest.raises(OSError, match=r"10\.0\.0\.1"):
        await resolver.resolve("example.test", 443)
    public = VettedResolver(FetchPolicy(), FixedResolver("8.8.8.8"))
    assert [r["host"] for r in await public.resolve("example.test", 443)] == ["8.8.8.8"]


async def test_only_https_is_fetched() -> None:
    with pytest.raises(FetchError, match="https"):
        await fetch_https("http://example.com/a.png", max_bytes=10, timeout_s=1)


async def test_literal_private_addresses_are_refused_before_connecting() -> None:
    with pytest.raises(FetchError, match="not public"):
        await fetch_https("https://10.0.0.1/a.png", max_bytes=10, timeout_s=1)


async def test_the_default_port_policy(tmp_path: Path) -> None:
    with pytest.raises(FetchError, match="port 8080, which is not allowed"):
        await fetch_https("https://example.com:8080/a.png", max_bytes=10, timeout_s=1)


def test_data_uris() -> None:
    assert decode_data_uri("data:image/png;base64,aGVsbG8=", "f") == (b"hello", "image/png")
    assert decode_data_uri("data:image/svg+xml,%3Csvg%3E", "f") == (b"<svg>", "image/svg+xml")
    for bad in ("data:image/png;base64,@@", "data:nothing", "data:image/png;base64,"):
        with pytest.raises(BadRequest):
            decode_data_uri(bad, "f")
