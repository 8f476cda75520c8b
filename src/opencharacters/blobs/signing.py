"""Signed, expiring URLs for blobs and uploads (HMAC-SHA256 over path and expiry)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import quote, urlencode


class UrlSigner:
    def __init__(self, secret: bytes, base_url: str, default_ttl_s: int) -> None:
        self._secret = secret
        self.base_url = base_url.rstrip("/")
        self.default_ttl_s = default_ttl_s

    def signature(self, purpose: str, subject: str, expires: int) -> str:
        message = f"{purpose}\n{subject}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def verify(self, purpose: str, subject: str, expires: str | int, signature: str) -> bool:
        try:
            expires_at = int(expires)
        except (TypeError, ValueError):
            return False
        if expires_at < time.time():
            return False
        expected = self.signature(purpose, subject, expires_at)
        # As bytes: compare_digest refuses str with non-ASCII characters (a 500 otherwise).
        return hmac.compare_digest(expected.encode(), signature.encode())

    def expiry(self, ttl_s: int | None = None) -> int:
        return int(time.time()) + (ttl_s or self.default_ttl_s)

    def blob_url(self, key: str, ttl_s: int | None = None) -> str:
        expires = self.expiry(ttl_s)
        query = urlencode({"expires": expires, "signature": self.signature("blob", key, expires)})
        return f"{self.base_url}/v1/files/{quote(key)}?{query}"
