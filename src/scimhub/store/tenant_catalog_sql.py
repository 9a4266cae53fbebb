"""The tenant catalog the admin API pages through: tenants by name, with their resource counts.

A SaaS deployment holds thousands of tenants: the admin API lists them a page at a time (a
keyset on the unique name, so a page is one index range scan however many there are) and reads
the counts of a page's tenants in one query on ``resource_counts`` (kept exact in every write).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func
from sqlalchemy import select

from scimhub.store.base import Tenant
from scimhub.store.database import Database
from scimhub.store.tables import resource_counts
from scimhub.store.tables import tenants
from scimhub.store.tables import tokens


@dataclass(frozen=True, slots=True)
class TenantCounts:
    users: int = 0
    groups: int = 0
    active_tokens: int = 0


class TenantCatalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def page(self, after: str | None, limit: int, prefix: str = "") -> list[Tenant]:
        """Up to ``limit`` tenants in name order, names after ``after``, starting with ``prefix``."""
        stmt = select(tenants).order_by(tenants.c.name).limit(limit)
        if after is not None:
            stmt = stmt.where(tenants.c.name > after)
        if prefix:
            # A range on the unique index instead of LIKE (whose wildcards a prefix would need escaped).
            stmt = stmt.where(tenants.c.name >= prefix, tenants.c.name < prefix + "\U0010ffff")
        async with self.db.read() as tx:
            rows = (await tx.execute(stmt)).all()
        return [Tenant(r.id, r.name, r.created_at) for r in rows]

    async def counts(self, tenant_ids: Sequence[str], now: str) -> dict[str, TenantCounts]:
        """Users, groups and usable (unrevoked, unexpired at ``now``) tokens of each tenant."""
        if not tenant_ids:
            return {}
        found: dict[str, dict[str, int]] = {t: {} for t in tenant_ids}
        counted = select(resource_counts.c.tenant_id, resource_counts.c.resource_type, resource_counts.c.count).where(
            resource_counts.c.tenant_id.in_(tenant_ids)
        )
        usable = (
            select(tokens.c.tenant_id, func.count())
            .where(
                tokens.c.tenant_id.in_(tenant_ids),
                tokens.c.revoked_at.is_(None),
                (tokens.c.expires_at.is_(None)) | (tokens.c.expires_at > now),
            )
            .group_by(tokens.c.tenant_id)
        )
        async with self.db.read() as tx:
            for tenant_id, resource_type, count in (await tx.execute(counted)).all():
                found[tenant_id][resource_type] = int(count)
            for tenant_id, count in (await tx.execute(usable)).all():
                found[tenant_id]["tokens"] = int(count)
        return {t: TenantCounts(c.get("User", 0), c.get("Group", 0), c.get("tokens", 0)) for t, c in found.items()}
