"""Our signatures verify with the Standard Webhooks library, and only for the exact message."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from opencharacters.webhooks.signing import headers, is_valid_secret, new_secret, sign

pytestmark = pytest.mark.unit


def test_signed_messages_verify_with_the_standard_library() -> None:
    secret = new_secret()
    assert is_valid_secret(secret)
    body = b'{"type":"webhook.test","data":{"caf\xc3\xa9":1}}'
    now = int(time.time())
    signed = headers(secret, "msg_1", now, body)
    assert signed["webhook-signature"].startswith("v1,")
    assert Webhook(secret).verify(body, signed) == {"type": "webhook.test", "data": {"café": 1}}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", signed)  # altered body
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, signed)  # another endpoint's secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**signed, "webhook-id": "msg_2"})  # replayed as another id


def test_signature_matches_the_specification_by_hand() -> None:
    # HMAC-SHA256 keyed with the base64-decoded secret over "id.timestamp.body".
    import base64
    import hashlib
    import hmac

    secret = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    expected = base64.b64encode(
        hmac.new(bytes(range(32)), b"msg_x.1700000000.{}", hashlib.sha256).digest()
    ).decode()
    assert sign(secret, "msg_x", 1_700_000_000, b"{}") == f"v1,{expected}"


@pytest.mark.parametrize(
    "secret", ["", "whsec_", "whsec_not base64!", "whsec_" + "QUJD", "abc", "whsec_" + "A" * 200]
)
def test_weak_or_malformed_secrets_are_refused(secret: str) -> None:
    assert not is_valid_secret(secret)
