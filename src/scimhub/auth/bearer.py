"""Bearer authentication (RFC 6750): Authorization header → Principal, or 401."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

from scimhub.auth.tokens import digest
from scimhub.auth.tokens import well_formed
from scimhub.errors import Unauthorized
from scimhub.protocol.context import Principal
from scimhub.store.base import Store

# last_used_at is written at most once per interval per token, never on every request.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def bearer_token(header: str | None) -> str:
    if not header:
        raise Unauthorized("Missing Authorization header; send 'Authorization: Bearer <token>'.", error="")
    scheme, _, token = header.strip().partition(" ")
    if scheme.casefold() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.", error="invalid_request")
    return token.strip()


async def authenticate(store: Store, header: str | None, pepper: str | None, now: datetime | None = None) -> Principal:
    """Resolve the token to its tenant; 401 for missing, unknown, revoked or expired tokens."""
    token = bearer_token(header)
    if not well_formed(token):
        raise Unauthorized("The bearer token is not valid.")
    record = await store.token_by_digest(digest(token, pepper))
    if record is None:
        raise Unauthorized("The bearer token is not valid.")
    now = now or datetime.now(UTC)
    if record.revoked_at is not None:
        raise Unauthorized("The bearer token has been revoked.")
    expires = _parse(record.expires_at)
    if expires is not None and expires <= now:
        raise Unauthorized("The bearer token has expired.")
    last_used = _parse(record.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_RESOLUTION:
        await store.touch_token(record.id, now.isoformat(timespec="seconds"))
    return Principal(record.tenant_id, record.id)
