"""SET streams as the CLI and the admin API manage them: add (push or poll), token checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from scimhub.events.destinations import Resolver
from scimhub.events.destinations import check_public
from scimhub.events.destinations import system_resolve
from scimhub.events.webhooks import check_url
from scimhub.store.sets_sql import POLL
from scimhub.store.sets_sql import PUSH
from scimhub.store.sets_sql import Stream
from scimhub.store.sets_sql import StreamStore
from scimhub.timestamps import utc_now

TOKEN_PREFIX = "sst_"  # noqa: S105 (a format prefix, not a secret): a poll stream's bearer token
MAX_AUDIENCE = 2000


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(stream: Stream, presented: str) -> bool:
    """Constant-time comparison of digests (equal length whatever was presented)."""
    return stream.token_digest is not None and hmac.compare_digest(token_digest(presented), stream.token_digest)


def _check_url(name: str, url: str) -> str:
    try:
        return check_url(url)
    except ValueError:
        raise ValueError(f"{name} must be an absolute http:// or https:// URL, got {url!r}.") from None


def _check_text(name: str, value: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_AUDIENCE or not value.isprintable():
        raise ValueError(f"{name} must be 1 to {MAX_AUDIENCE} printable characters.")
    return value


async def add_stream(
    store: StreamStore,
    tenant_id: str,
    *,
    audience: str,
    issuer: str,
    push_url: str | None,
    full: bool = False,
    after: int | None = None,
    allow_private: bool = False,
    resolve: Resolver = system_resolve,
) -> tuple[Stream, str | None]:
    """A new push stream (to ``push_url``) or poll stream (None); for a poll stream also its
    bearer token, returned once (only its digest is stored). The tenant's signing key is made
    now if it has none, so its JWKS is there before the first SET."""
    if after is not None and after < 0:
        raise ValueError("after must be a sequence number >= 0.")
    audience, issuer = _check_text("The audience", audience), _check_url("The issuer", issuer)
    token = None
    if push_url is not None:
        push_url = _check_url("The push URL", push_url)
        if not allow_private:
            await check_public(push_url, resolve)
    else:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    stream = Stream(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        mode=PUSH if push_url is not None else POLL,
        url=push_url,
        audience=audience,
        issuer=issuer.rstrip("/"),
        full=full,
        created_at=utc_now(),
        delivered_seq=0,
        allow_private=allow_private,
        token_digest=None if token is None else token_digest(token),
    )
    await store.active_key(tenant_id, stream.created_at)
    return await store.add_stream(stream, after), token
