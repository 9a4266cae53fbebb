"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com, spec "Signature scheme").

A message is signed as ``HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}")`` where the
key is the base64-decoded part of the ``whsec_…`` secret; the ``webhook-signature`` header holds
``v1,<base64 signature>`` (space-separated when several keys are valid during a rotation).
Receivers verify with any Standard Webhooks library, e.g. ``standardwebhooks.Webhook``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format prefix, not a secret)
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes


def new_secret() -> str:
    """A fresh signing secret: ``whsec_`` + base64 of 32 random bytes (shown once, stored as given)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@lru_cache(maxsize=256)  # a lane signs every event with the same secret
def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_…`` secret (the base64-decoded part after the prefix)."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("A Standard Webhooks secret starts with 'whsec_'.")
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    if not key:
        raise ValueError("The webhook secret is empty.")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value ``v1,<base64>`` for one message (Standard Webhooks v1)."""
    signed = b".".join((msg_id.encode(), str(timestamp).encode(), body))
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def webhook_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers; ``timestamp`` is integer seconds since the epoch."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, msg_id, timestamp, body),
    }
