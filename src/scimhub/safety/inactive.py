"""What happens to deactivated users: ``users.inactive`` per tenant.

``keep`` (the default): a deactivated user stays, readable and reactivatable (Okta and Entra
expect to find it again). ``delete_after_days:N``: a maintenance task hard-deletes users
deactivated at least N days ago (their last change is that long ago) through the normal delete,
so each gets its ``user.deleted`` event and audit entry. A held or paused tenant is skipped: the
app is not told of deletions while its stream is held.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

from scimhub.errors import NotFound
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.timestamps import format_instant

if TYPE_CHECKING:
    from scimhub.protocol.resources import ResourceService
    from scimhub.store.sql import SqlStore

KEY = "users.inactive"
KEEP = "keep"
MAINTENANCE_ACTOR = "maintenance"  # the audit entries' and events' tokenId: no IdP token did it
BATCH = 100  # users deleted per tenant and round (the task comes back for more)
_DELETE_AFTER = re.compile(r"delete_after_days:(\d{1,5})")
log = logging.getLogger("scimhub.safety")


@dataclass(frozen=True, slots=True)
class InactivePolicy:
    delete_after_days: int | None = None  # None: keep

    def __str__(self) -> str:
        return KEEP if self.delete_after_days is None else f"delete_after_days:{self.delete_after_days}"


def parse_policy(value: str) -> InactivePolicy:
    text = value.strip().lower()
    if text == KEEP:
        return InactivePolicy()
    match = _DELETE_AFTER.fullmatch(text)
    if match and int(match[1]) >= 1:
        return InactivePolicy(int(match[1]))
    raise ValueError(f"{KEY} takes keep or delete_after_days:N (N days, at least 1), not {value!r}.")


async def purge_inactive(store: SqlStore, service: ResourceService, now: datetime) -> int:
    """One round over every tenant with a delete-after policy; returns the users deleted."""
    from scimhub.store.holds_sql import HoldStore
    from scimhub.store.holds_sql import inactive_users_before

    holds = HoldStore(store.db)
    held = await holds.holds()
    user = service.registry.resource_type("User")
    deleted = 0
    for tenant in await store.list_tenants():
        value = (await store.tenant_settings(tenant.id)).get(KEY)
        policy = parse_policy(value) if value else InactivePolicy()
        if policy.delete_after_days is None or tenant.id in held:
            continue
        before = format_instant(now - timedelta(days=policy.delete_after_days))
        ctx = RequestContext(Principal(tenant.id, MAINTENANCE_ACTOR), "", method="DELETE")
        here = 0
        for user_id in await inactive_users_before(store.db, tenant.id, before, BATCH):
            try:
                await service.delete(_with_path(ctx, user_id), user, user_id)
            except NotFound:  # another instance's round deleted it first
                continue
            here += 1
        if here:
            log.info("tenant %s: deleted %d users inactive since before %s (%s)", tenant.name, here, before, policy)
        deleted += here
    return deleted


def _with_path(ctx: RequestContext, user_id: str) -> RequestContext:
    return RequestContext(ctx.principal, ctx.base_url, ctx.policy, ctx.limits, ctx.method, f"/Users/{user_id}")
