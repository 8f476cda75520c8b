"""Sends one signed webhook request through the same SSRF guard as image fetches.

The fetcher's policy and resolver decide where a delivery may connect: every address the
receiver's host resolves to is vetted and the connector connects only to those (no DNS
rebinding), a literal IP in the URL is judged before connecting, and redirects are not
followed (a 3xx is a failed attempt), so a receiver cannot bounce a delivery into a private
network. Unlike fetches, any port and http:// are allowed (receivers live on all sorts);
`allow_private` (OPENCHARACTERS_WEBHOOK_ALLOW_PRIVATE) admits receivers on this machine or the
LAN, and the operator's OPENCHARACTERS_FETCH_ALLOW_NETWORKS apply here too."""

from __future__ import annotations

import ipaddress
import json
import time
from typing import Any

import aiohttp
from yarl import URL

from opencharacters import __version__
from opencharacters.ingest.fetch import (
    AddressRefused,
    FetchPolicy,
    VettedResolver,
    parse_networks,
)
from opencharacters.store.webhooks import AttemptOutcome, DeliveryJob
from opencharacters.webhooks.signing import headers as signature_headers

READ_LIMIT = 4096
"""Bytes of the receiver's answer read for the delivery log."""


def encode_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def private_address_reason(url: str, policy: FetchPolicy) -> str | None:
    """Why a URL names a refused address outright (a literal IP, or localhost), else None."""
    try:
        host = (URL(url).host or "").strip("[]").lower()
    except ValueError:
        return None  # not a URL at all: the request fails and says so
    if host == "localhost" or host.endswith(".localhost"):
        return None if policy.allow_private else f"{host} is a loopback name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None  # a name: vetted when it is resolved, on every connection
    if policy.address_allowed(address):
        return None
    return f"{host} is a private, loopback or link-local address"


class WebhookSender:
    def __init__(self, *, timeout_s: float, policy: FetchPolicy) -> None:
        self.timeout_s = timeout_s
        self.policy = policy
        self._client: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            connector = aiohttp.TCPConnector(resolver=VettedResolver(self.policy), limit=50)
            self._client = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(
                    total=self.timeout_s, connect=min(self.timeout_s, 10)
                ),
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def send(self, job: DeliveryJob) -> AttemptOutcome:
        reason = private_address_reason(job.url, self.policy)
        if reason is not None:
            return AttemptOutcome(None, None, f"refused: {reason}", None)
        body = encode_body(job.payload)
        request_headers = {
            "content-type": "application/json",
            "user-agent": f"OpenCharacters-Webhooks/{__version__}",
            **signature_headers(job.secret, job.event_id, int(time.time()), body),
        }
        started = time.monotonic()
        try:
            async with self._session().post(
                job.url, data=body, headers=request_headers, allow_redirects=False
            ) as response:
                answer = await response.content.read(READ_LIMIT)
                elapsed = round((time.monotonic() - started) * 1000)
                text = answer.decode("utf-8", errors="replace")
                error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
                return AttemptOutcome(response.status, elapsed, error, text)
        except TimeoutError:
            return AttemptOutcome(None, None, f"no answer within {self.timeout_s:g} s", None)
        except aiohttp.ClientConnectorError as exc:
            inner = exc.os_error
            if isinstance(inner, AddressRefused):
                return AttemptOutcome(None, None, f"refused: {inner}", None)
            return AttemptOutcome(None, None, f"could not connect: {inner.strerror or inner}", None)
        except (aiohttp.ClientError, ValueError) as exc:
            return AttemptOutcome(None, None, f"request failed: {exc}"[:500], None)


def webhook_policy(allow_private: bool, allowed_networks: list[str]) -> FetchPolicy:
    return FetchPolicy(
        allow_private=allow_private,
        allowed_networks=parse_networks(allowed_networks),
        allowed_ports=None,
    )
