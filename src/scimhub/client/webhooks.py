"""Verifying a webhook delivery (Standard Webhooks v1) in the receiving app.

A receiver must check three things before it acts: the signature (HMAC-SHA256 under the
webhook's ``whsec_…`` secret, over ``id.timestamp.body``), that the timestamp is recent (a
captured delivery replayed later is refused), and then de-duplicate by ``webhook-id`` itself
(deliveries are at least once)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping

import orjson

from scimhub.client.errors import WebhookVerificationError
from scimhub.client.models import Event
from scimhub.events.signing import sign

DEFAULT_TOLERANCE_SECONDS = 300  # Standard Webhooks' recommendation: five minutes either way


def verify_webhook(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> Event:
    """The delivered event, if ``body`` was signed with ``secret`` within the tolerance.

    ``headers`` may be any mapping (names are matched case-insensitively); ``body`` the raw
    request bytes, unparsed. Raises ``WebhookVerificationError`` otherwise."""
    found = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp, signatures = (found.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not msg_id or not stamp or not signatures:
        raise WebhookVerificationError("Missing webhook-id, webhook-timestamp or webhook-signature.")
    if not (stamp.isascii() and stamp.isdigit()):
        raise WebhookVerificationError("webhook-timestamp is not a number of seconds.")
    age = (time.time() if now is None else now) - int(stamp)
    if abs(age) > tolerance_seconds:
        raise WebhookVerificationError(f"webhook-timestamp is {age:+.0f} s off: older or newer than the tolerance.")
    try:
        expected = sign(secret, msg_id, int(stamp), body)
    except ValueError as exc:
        raise WebhookVerificationError(f"The secret is not a whsec_ secret: {exc}") from None
    if not any(hmac.compare_digest(expected, s) for s in signatures.split(" ") if s.startswith("v1,")):
        raise WebhookVerificationError("No signature matches: not signed with this secret.")
    try:
        parsed = orjson.loads(body)
        return Event.from_json(parsed)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise WebhookVerificationError(f"The signed body is not an event: {exc}") from None
