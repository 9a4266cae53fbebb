"""Standard Webhooks v1 signatures, checked by the reference library (standardwebhooks)."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from scimhub.events.signing import new_secret
from scimhub.events.signing import secret_key
from scimhub.events.signing import sign
from scimhub.events.signing import webhook_headers


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_our_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    body = '{"type":"user.deactivated","seq":7,"name":"Zoë"}'.encode()

    headers = webhook_headers(secret, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", int(time.time()), body)

    assert Webhook(secret).verify(body, headers) == {"type": "user.deactivated", "seq": 7, "name": "Zoë"}


def test_a_tampered_body_or_another_secret_fails_verification() -> None:
    secret = new_secret()
    headers = webhook_headers(secret, "id-1", int(time.time()), b'{"seq":1}')

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(b'{"seq":2}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(b'{"seq":1}', headers)


def test_the_signature_matches_the_specifications_example() -> None:
    # Standard Webhooks specification, "Signature scheme" example (same values in the reference library's tests).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'

    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)

    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_secret_without_the_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
