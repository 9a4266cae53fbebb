"""Tenants and tokens: what the CLI (and later the admin API) manage."""

from __future__ import annotations

import asyncio
import re
import shlex
import time
import uuid
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

from scimhub.auth.tokens import digest
from scimhub.auth.tokens import display_prefix
from scimhub.auth.tokens import mint_token
from scimhub.errors import Conflict
from scimhub.errors import NotFound
from scimhub.store.base import PendingDelivery
from scimhub.store.base import Store
from scimhub.store.base import Tenant
from scimhub.store.base import TokenRecord
from scimhub.timestamps import utc_now

# A tenant's name is typed in shell commands and sits in admin API paths (/tenants/{tenant}/…):
# a slug needs neither quoting nor percent-encoding. Names made before the rule keep working
# (lookups never check it) until renamed.
TENANT_NAME_RULE = (
    "1 to 63 characters: lower-case letters a-z, digits 0-9, '.', '_' and '-', starting with a letter or digit"
)
_TENANT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# Rows one transaction of a tenant deletion removes from one table (and their cascades: a
# resource's multi-valued keys): 0.1-0.3 s for users on SQLite, whose one writer it holds.
DELETE_BATCH = 1000


def _now() -> datetime:
    return datetime.now(UTC)


def is_tenant_name(name: str) -> bool:
    return _TENANT_NAME.fullmatch(name) is not None


def check_tenant_name(name: str) -> str:
    """``name`` if it is a valid tenant name; otherwise a ValueError that says the rule."""
    if is_tenant_name(name):
        return name
    suggestion = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).lstrip("._-")[:63].rstrip("-")
    hint = f" (e.g. {suggestion!r})" if is_tenant_name(suggestion) else ""
    raise ValueError(f"{name!r} is not a valid tenant name{hint}: use {TENANT_NAME_RULE}.")


def command(*args: str) -> str:
    """A ``scimhub`` command line to print as a hint, each argument quoted for a POSIX shell."""
    return shlex.join(["scimhub", *args])


async def create_tenant(store: Store, name: str) -> Tenant:
    check_tenant_name(name)
    if await store.tenant_by_name(name) is not None:
        raise Conflict(f"Tenant {name!r} already exists.")
    tenant = Tenant(str(uuid.uuid4()), name, _now().isoformat(timespec="seconds"))
    await store.create_tenant(tenant)
    return tenant


async def require_tenant(store: Store, name: str) -> Tenant:
    tenant = await store.tenant_by_name(name)
    if tenant is None:
        hint = f"; create it with: {command('tenant', 'create', name)}" if is_tenant_name(name) else ""
        raise NotFound(f"No tenant named {name!r}{hint}")
    return tenant


async def rename_tenant(store: Store, name: str, new_name: str) -> Tenant:
    """Give tenant ``name`` (which may predate the name rule) the valid name ``new_name``.

    Only the name changes: the id, and so the tokens, data and webhooks, stay."""
    check_tenant_name(new_name)
    tenant = await require_tenant(store, name)
    if new_name == tenant.name:
        return tenant
    if await store.tenant_by_name(new_name) is not None:
        raise Conflict(f"Tenant {new_name!r} already exists.")
    if not await store.rename_tenant(tenant.id, new_name):
        raise NotFound(f"No tenant named {name!r}")  # deleted meanwhile
    return Tenant(tenant.id, new_name, tenant.created_at)


class DeliveriesPending(Conflict):
    """A tenant deletion would drop events its webhooks have not delivered yet."""

    def __init__(self, tenant: Tenant, pending: list[PendingDelivery]) -> None:
        described = "; ".join(describe_pending(p) for p in pending)
        super().__init__(
            f"Tenant {tenant.name!r} has webhook deliveries pending ({described}). Wait for them, "
            f"remove the webhooks, or delete anyway with: {command('tenant', 'delete', tenant.name, '--force')}"
        )
        self.pending = pending


def describe_pending(pending: PendingDelivery) -> str:
    count = pending.undelivered
    parts = [f"{count} undelivered event{'' if count == 1 else 's'}"] if count else []
    if pending.in_flight:
        parts.append("a delivery in flight")
    return f"webhook {pending.webhook_id} ({pending.url}): {' and '.join(parts)}"


async def check_deliveries(store: Store, tenant: Tenant) -> None:
    """DeliveriesPending if deleting ``tenant`` now would drop events its webhooks still owe."""
    pending = await store.pending_deliveries(tenant.id, utc_now())  # the leases' format
    if pending:
        raise DeliveriesPending(tenant, pending)


@dataclass(frozen=True, slots=True)
class TenantDeletion:
    """What a deletion removed: rows per table (cascaded rows not counted), in how many transactions."""

    removed: dict[str, int]
    transactions: int


async def delete_tenant(
    store: Store,
    tenant: Tenant,
    *,
    force: bool = False,
    batch: int = DELETE_BATCH,
    grace: float = 0.0,
    progress: Callable[[str, int], None] | None = None,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> TenantDeletion:
    """Remove ``tenant`` and everything stored for it, at most ``batch`` rows a transaction.

    Refused (DeliveriesPending) while a webhook of the tenant has undelivered events or a
    delivery in flight, unless ``force``. Its tokens go first, so servers stop accepting its
    requests; a server may still let one through for ``grace`` seconds (its token recheck
    interval, plus its request log's flush): the rows such requests write are swept once that
    has passed, before the tenant's row goes (a row written after that would fail its foreign key).
    Until then the tenant is listed and its name taken. After each transaction it pauses as
    long as that transaction took: another process waiting for SQLite's write lock (which is
    not handed over in turn) gets it at least half the time.
    """
    if not force:
        await check_deliveries(store, tenant)
    started = time.monotonic()
    steps: list[tuple[str, int]] = []
    deleting = _Deleting(store, tenant.id, batch, steps, progress, pause)
    await deleting.run()
    if (wait := grace - (time.monotonic() - started)) > 0:
        await asyncio.sleep(wait)
        await deleting.run()  # what requests let in before the tokens went wrote meanwhile
    await store.delete_tenant(tenant.id)
    removed: dict[str, int] = {}
    for table, count in steps:
        removed[table] = removed.get(table, 0) + count
    return TenantDeletion(removed, len(steps) + 1)


@dataclass(frozen=True, slots=True)
class _Deleting:
    store: Store
    tenant_id: str
    batch: int
    steps: list[tuple[str, int]]
    progress: Callable[[str, int], None] | None
    pause: Callable[[float], Awaitable[None]]

    async def run(self) -> None:
        """Transactions of up to ``batch`` rows until none of the tenant's rows is left."""
        while True:
            began = time.monotonic()
            step = await self.store.delete_tenant_rows(self.tenant_id, self.batch)
            if step is None:
                return
            self.steps.append(step)
            if self.progress is not None:
                self.progress(*step)
            await self.pause(time.monotonic() - began)


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
