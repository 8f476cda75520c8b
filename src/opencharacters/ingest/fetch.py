"""Fetching https:// media for callers without letting them reach internal networks (no SSRF).

Every hop is vetted before anything is connected. Redirects are followed here, one at a time
(never by aiohttp), and each URL's scheme, port and host are checked first:
- an IP literal is judged directly (aiohttp never asks the resolver about one);
- a host name is resolved by `VettedResolver`, which refuses the whole answer if any address is
  not allowed. The connector connects only to the addresses the resolver returned, so a name
  cannot resolve to a public address for the check and a private one for the connection
  (DNS rebinding): the vetted answer is the one used.

Callers see generic reasons ("redirected to a non-public address", "could not connect"); what
answered, with which status, certificate or socket error, is logged for the operator only, so
the fetcher cannot be used as a port scanner."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL

if TYPE_CHECKING:
    from opencharacters.settings import Settings

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = frozenset({443, 8443})

# IPv6 ranges that carry an IPv4 address inside them.
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: v4 in the last 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: operator-local translation
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated RFC 4291 "::a.b.c.d"
_TEREDO = ipaddress.IPv6Network("2001::/32")


class FetchError(Exception):
    """A reason safe to show the caller; `detail` (logged, never shown) says what happened."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        super().__init__(reason)
        self.detail = detail or reason


class AddressRefused(OSError):
    """Raised by the resolver: an OSError, so aiohttp reports it as a failed connection."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, when it is one of the embedding forms."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64_WELL_KNOWN or ip in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _plainly_public(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return False  # deprecated fec0::/10, still routed inside some networks
    return (
        ip.is_global
        and not ip.is_private
        and not ip.is_loopback
        and not ip.is_link_local
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
    )


def is_public_address(address: str | IPAddress) -> bool:
    """True only for addresses on the public internet. Loopback, private, link-local, shared
    (CGNAT), multicast, reserved and unspecified addresses are not, and neither are IPv6 forms
    whose embedded IPv4 address is not (mapped, compatible, NAT64, 6to4). Teredo is refused
    outright: its client address is obfuscated and the tunnel ends who knows where."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False  # only link-local addresses carry a zone
        ip = ipaddress.IPv6Address(int(ip))
        if ip in _TEREDO or ip in _NAT64_LOCAL:
            return False
        if ip in _IPV4_COMPATIBLE:
            return False  # deprecated; "::7f00:1" would otherwise smuggle loopback
        inner = embedded_ipv4(ip)
        if inner is not None:
            return _plainly_public(inner)
    return _plainly_public(ip)


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def parse_ports(value: str) -> frozenset[int] | None:
    """'443,8443' → {443, 8443}; '*' → None (any port)."""
    if value.strip() == "*":
        return None
    ports = frozenset(int(part) for part in value.split(",") if part.strip())
    if not ports or any(not 0 < port < 65536 for port in ports):
        raise ValueError(f"ports must be '*' or a comma-separated list of 1..65535 (got {value!r})")
    return ports


@dataclass(frozen=True)
class FetchPolicy:
    """Where fetches may connect. The default: public addresses, https, ports 443 and 8443."""

    allow_private: bool = False
    """Development only: any address (the scheme and port rules still hold)."""
    allowed_networks: tuple[IPNetwork, ...] = ()
    """Non-public networks an operator trusts, e.g. an internal image host."""
    allowed_ports: frozenset[int] | None = field(default=DEFAULT_PORTS)
    """None: any port."""

    def address_allowed(self, address: str | IPAddress) -> bool:
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        if self.allow_private:
            return True
        if any(ip.version == net.version and ip in net for net in self.allowed_networks):
            return True
        return is_public_address(ip)

    def check_url(self, url: URL, *, hop: int) -> None:
        """Raises FetchError unless `url` may be connected to. `hop` 0 is the caller's own URL."""
        if url.scheme != "https":
            raise FetchError(
                "only https:// URLs can be fetched"
                if hop == 0
                else "redirected to a non-https URL",
                f"hop {hop}: scheme {url.scheme!r} in {url}",
            )
        host = url.host
        if not host:
            raise FetchError(
                "the URL has no host" if hop == 0 else "redirected to a URL without a host",
                f"hop {hop}: {url}",
            )
        port = url.port or 443
        if self.allowed_ports is not None and port not in self.allowed_ports:
            allowed = ", ".join(str(p) for p in sorted(self.allowed_ports))
            raise FetchError(
                ("the URL has" if hop == 0 else "redirected to")
                + f" port {port}, which is not allowed (allowed: {allowed})",
                f"hop {hop}: port {port} in {url}",
            )
        literal = _ip_literal(host)
        if literal is not None and not self.address_allowed(literal):
            raise FetchError(
                "redirected to a non-public address" if hop else "the URL's address is not public",
                f"hop {hop}: {literal} refused in {url}",
            )


def policy_from_settings(settings: Settings) -> FetchPolicy:
    return FetchPolicy(
        allow_private=settings.fetch_allow_private,
        allowed_networks=parse_networks(settings.fetch_allow_networks),
        allowed_ports=parse_ports(settings.fetch_ports),
    )


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class VettedResolver(AbstractResolver):
    """Resolves with the system resolver and refuses the whole answer if any address is not
    allowed: the connector then connects only to the vetted addresses it returns."""

    def __init__(self, policy: FetchPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        refused = [r["host"] for r in results if not self._policy.address_allowed(r["host"])]
        if refused:
            raise AddressRefused(f"{host} resolves to {refused[0]}, which is not allowed")
        return results

    async def close(self) -> None:
        await self._inner.close()


async def fetch_https(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    policy: FetchPolicy | None = None,
    ca_bundle: Path | None = None,
    max_redirects: int = 5,
    resolver: AbstractResolver | None = None,
) -> tuple[bytes, str | None]:
    """Returns (body, content type). Raises FetchError with a reason safe to show the caller.
    `resolver` replaces the system resolver (it is still vetted)."""
    policy = policy or FetchPolicy()
    ssl_context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    # No DNS cache: every connection is resolved (and vetted) afresh.
    connector = aiohttp.TCPConnector(
        ssl=ssl_context, resolver=VettedResolver(policy, resolver), use_dns_cache=False
    )
    timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 10))
    try:
        target = URL(url)
    except ValueError:
        raise FetchError("the URL is not valid") from None
    hop = 0
    try:
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False
        ) as client:
            for hop in range(max_redirects + 1):
                policy.check_url(target, hop=hop)
                async with client.get(target, allow_redirects=False) as response:
                    if response.status in REDIRECT_STATUSES:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(
                                "the server answered with a redirect without a location",
                                f"{target}: {response.status} without Location",
                            )
                        try:
                            target = target.join(URL(location))
                        except ValueError:
                            raise FetchError(
                                "the server redirected to an invalid URL",
                                f"{target}: Location {location[:200]!r}",
                            ) from None
                        continue
                    if response.status != 200:
                        raise FetchError(
                            "the server did not answer with the file",
                            f"{target}: HTTP {response.status}",
                        )
                    return await _read_capped(response, max_bytes), response.headers.get(
                        "Content-Type"
                    )
            raise FetchError(f"more than {max_redirects} redirects", f"last: {target}")
    except FetchError as exc:
        log.info("fetch of %s refused or failed: %s", url[:200], exc.detail)
        raise
    except TimeoutError:
        log.info("fetch of %s timed out after %s s", url[:200], timeout_s)
        raise FetchError(f"no complete answer within {timeout_s:g} s") from None
    except aiohttp.ClientConnectorError as exc:
        log.info("fetch of %s could not connect: %s", url[:200], exc)
        if isinstance(exc.os_error, AddressRefused):
            raise FetchError(
                "redirected to a non-public address"
                if hop
                else "the URL's host name resolves to a non-public address"
            ) from None
        raise FetchError("could not connect to the server") from None
    except (aiohttp.ClientError, ssl.SSLError, OSError) as exc:
        log.info("fetch of %s failed: %r", url[:200], exc)
        raise FetchError("the download failed") from None


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise FetchError(f"the file is larger than the limit of {max_bytes} bytes")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchError(f"the file is larger than the limit of {max_bytes} bytes")
    return bytes(body)
