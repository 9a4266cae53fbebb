"""Tenants and tokens: what the CLI (and later the admin API) manage."""

from __future__ import annotations

import uuid
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from scimhub.auth.tokens import digest
from scimhub.auth.tokens import display_prefix
from scimhub.auth.tokens import mint_token
from scimhub.errors import Conflict
from scimhub.errors import NotFound
from scimhub.store.base import Store
from scimhub.store.base import Tenant
from scimhub.store.base import TokenRecord


def _now() -> datetime:
    return datetime.now(UTC)


async def create_tenant(store: Store, name: str) -> Tenant:
    if not name.strip():
        raise ValueError("A tenant name must not be empty.")
    if await store.tenant_by_name(name) is not None:
        raise Conflict(f"Tenant {name!r} already exists.")
    tenant = Tenant(str(uuid.uuid4()), name, _now().isoformat(timespec="seconds"))
    await store.create_tenant(tenant)
    return tenant


async def require_tenant(store: Store, name: str) -> Tenant:
    tenant = await store.tenant_by_name(name)
    if tenant is None:
        raise NotFound(f"No tenant named {name!r}; create it with: scimhub tenant create {name}")
    return tenant


async def issue_token(
    store: Store, tenant: Tenant, pepper: str | None, expires_in_days: int | None = None
) -> tuple[TokenRecord, str]:
    """A new token for ``tenant``: the record and the secret (shown once, never stored)."""
    secret = mint_token()
    now = _now()
    expires = None if expires_in_days is None else (now + timedelta(days=expires_in_days))
    record = TokenRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant.id,
        prefix=display_prefix(secret),
        created_at=now.isoformat(timespec="seconds"),
        last_used_at=None,
        expires_at=None if expires is None else expires.isoformat(timespec="seconds"),
        revoked_at=None,
    )
    await store.add_token(record, digest(secret, pepper))
    return record, secret


async def revoke_token(store: Store, token_id: str) -> None:
    if not await store.revoke_token(token_id, _now().isoformat(timespec="seconds")):
        raise NotFound(f"No active token with id {token_id}.")


async def rotate_token(
    store: Store, token_id: str, overlap_hours: float, pepper: str | None
) -> tuple[TokenRecord, str]:
    """A new token for the same tenant; the old one keeps working for ``overlap_hours`` only.

    Lets an operator put the new token into the IdP before the old one stops working.
    """
    old = await store.token_by_id(token_id)
    if old is None or old.revoked_at is not None:
        raise NotFound(f"No active token with id {token_id}.")
    tenant = next((t for t in await store.list_tenants() if t.id == old.tenant_id), None)
    if tenant is None:
        raise NotFound(f"The tenant of token {token_id} no longer exists.")
    cutoff = _now() + timedelta(hours=overlap_hours)
    current = None if old.expires_at is None else datetime.fromisoformat(old.expires_at)
    if current is None or cutoff < current:
        await store.set_token_expiry(token_id, cutoff.isoformat(timespec="seconds"))
    remaining_days = None
    if current is not None:
        remaining_days = max(1, int((current - _now()).total_seconds() // 86400))
    return await issue_token(store, tenant, pepper, remaining_days)
