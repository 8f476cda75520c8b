"""Fetching https:// media without letting callers reach private networks (no SSRF).

Every address a host name resolves to is checked, on every connection (redirects included),
by the resolver the connector uses, so DNS tricks cannot slip a private address in between
the check and the connection."""

from __future__ import annotations

import ipaddress
import socket
import ssl
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from yarl import URL


class FetchError(Exception):
    """A reason a person can act on, e.g. 'the server answered 404'."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class PublicOnlyResolver(AbstractResolver):
    def __init__(self) -> None:
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        blocked = [r["host"] for r in results if not is_public_address(r["host"])]
        if blocked:
            raise FetchError(
                f"{host} resolves to a private, loopback or link-local address "
                f"({blocked[0]}); only public addresses can be fetched"
            )
        return results

    async def close(self) -> None:
        await self._inner.close()


async def fetch_https(
    url: str,
    *,
    max_bytes: int,
    timeout_s: float,
    allow_private: bool = False,
    ca_bundle: Path | None = None,
    max_redirects: int = 5,
) -> tuple[bytes, str | None]:
    """Returns (body, content type). Raises FetchError with a reason a person can act on."""
    if not url.startswith("https://"):
        raise FetchError("only https:// URLs can be fetched")
    ssl_context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)
    connector_args: dict[str, Any] = {"ssl": ssl_context}
    if not allow_private:
        connector_args["resolver"] = PublicOnlyResolver()
        # A literal IP in the URL never reaches the resolver.
        host = URL(url).host or ""
        try:
            if not is_public_address(host.strip("[]")):
                raise FetchError(f"{host} is a private, loopback or link-local address")
        except ValueError:
            pass
    timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(timeout_s, 10))
    try:
        async with (
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(**connector_args), timeout=timeout
            ) as client,
            client.get(url, max_redirects=max_redirects, allow_redirects=True) as response,
        ):
            if response.url.scheme != "https":
                raise FetchError("the URL redirected to a non-https address")
            if response.status != 200:
                raise FetchError(f"the server answered HTTP {response.status}")
            declared = response.content_length
            if declared is not None and declared > max_bytes:
                raise FetchError(f"the file is {declared} bytes; the limit is {max_bytes} bytes")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(
                        f"the file is larger than allowed; the limit is {max_bytes} bytes"
                    )
            return bytes(body), response.headers.get("Content-Type")
    except FetchError:
        raise
    except aiohttp.TooManyRedirects:
        raise FetchError(f"more than {max_redirects} redirects") from None
    except TimeoutError:
        raise FetchError(f"no complete answer within {timeout_s:g} s") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise FetchError(f"TLS certificate not trusted: {exc.certificate_error}") from None
    except aiohttp.ClientConnectorError as exc:
        inner = exc.os_error
        if isinstance(inner, FetchError):
            raise inner from None
        raise FetchError(f"could not connect to {exc.host}: {inner.strerror or inner}") from None
    except aiohttp.ClientError as exc:
        raise FetchError(f"download failed: {exc}") from None
