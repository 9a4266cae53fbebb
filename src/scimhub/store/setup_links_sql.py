"""Setup links in the database (``setup_links``) and the few facts their page shows: the tenant's
SCIM traffic since the link was made and its resource counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from scimhub.store.base import Tenant
from scimhub.store.database import Database
from scimhub.store.tables import resource_counts
from scimhub.store.tables import setup_links
from scimhub.store.tables import tenant_activity
from scimhub.store.tables import tenants


@dataclass(frozen=True, slots=True)
class SetupLink:
    id: str
    tenant_id: str
    created_at: str
    expires_at: str
    revoked_at: str | None
    last_used_at: str | None
    tokens_issued: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created_at,
            "expires": self.expires_at,
            "revoked": self.revoked_at,
            "lastUsed": self.last_used_at,
            "tokensIssued": self.tokens_issued,
        }


@dataclass(frozen=True, slots=True)
class Traffic:
    """The tenant's SCIM traffic as sync health recorded it (scimhub.safety.activity)."""

    first_request_at: str
    last_request_at: str
    user_agent: str | None


def _link(row: Row[Any]) -> SetupLink:
    return SetupLink(
        row.id, row.tenant_id, row.created_at, row.expires_at, row.revoked_at, row.last_used_at, row.tokens_issued
    )


_COLUMNS = (
    setup_links.c.id,
    setup_links.c.tenant_id,
    setup_links.c.created_at,
    setup_links.c.expires_at,
    setup_links.c.revoked_at,
    setup_links.c.last_used_at,
    setup_links.c.tokens_issued,
)


class SetupLinkStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, link: SetupLink, digest: str) -> None:
        row = {
            "id": link.id,
            "tenant_id": link.tenant_id,
            "digest": digest,
            "created_at": link.created_at,
            "expires_at": link.expires_at,
            "tokens_issued": 0,
        }
        async with self.db.write() as tx:
            await tx.execute(insert(setup_links), [row])

    async def by_digest(self, digest: str) -> tuple[SetupLink, Tenant] | None:
        """The link with this digest and its tenant."""
        stmt = (
            select(*_COLUMNS, tenants.c.name, tenants.c.created_at.label("tenant_created_at"))
            .join(tenants, tenants.c.id == setup_links.c.tenant_id)
            .where(setup_links.c.digest == digest)
        )
        async with self.db.read() as tx:
            row = (await tx.execute(stmt)).first()
        return None if row is None else (_link(row), Tenant(row.tenant_id, row.name, row.tenant_created_at))

    async def by_id(self, tenant_id: str, link_id: str) -> SetupLink | None:
        stmt = select(*_COLUMNS).where(setup_links.c.tenant_id == tenant_id, setup_links.c.id == link_id)
        async with self.db.read() as tx:
            row = (await tx.execute(stmt)).first()
        return None if row is None else _link(row)

    async def list(self, tenant_id: str) -> list[SetupLink]:
        stmt = (
            select(*_COLUMNS)
            .where(setup_links.c.tenant_id == tenant_id)
            .order_by(setup_links.c.created_at, setup_links.c.id)
        )
        async with self.db.read() as tx:
            return [_link(r) for r in await tx.execute(stmt)]

    async def revoke(self, tenant_id: str, link_id: str, now: str) -> bool:
        """Revoke a link not revoked yet; False when there is none."""
        stmt = (
            update(setup_links)
            .where(
                setup_links.c.tenant_id == tenant_id,
                setup_links.c.id == link_id,
                setup_links.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        async with self.db.write() as tx:
            return bool((await tx.execute(stmt)).rowcount)

    async def touch(self, link_id: str, now: str) -> None:
        async with self.db.write() as tx:
            await tx.execute(update(setup_links).where(setup_links.c.id == link_id).values(last_used_at=now))

    async def claim_token(self, link_id: str, now: str, limit: int) -> bool:
        """Count one more token issued through the link, if it is usable and under ``limit``:
        one conditional UPDATE, so concurrent requests cannot pass the limit together."""
        stmt = (
            update(setup_links)
            .where(
                setup_links.c.id == link_id,
                setup_links.c.revoked_at.is_(None),
                setup_links.c.expires_at > now,
                setup_links.c.tokens_issued < limit,
            )
            .values(tokens_issued=setup_links.c.tokens_issued + 1, last_used_at=now)
        )
        async with self.db.write() as tx:
            return bool((await tx.execute(stmt)).rowcount)

    async def traffic(self, tenant_id: str) -> Traffic | None:
        stmt = select(tenant_activity).where(tenant_activity.c.tenant_id == tenant_id)
        async with self.db.read() as tx:
            row = (await tx.execute(stmt)).first()
        return None if row is None else Traffic(row.first_request_at, row.last_request_at, row.user_agent)

    async def counts(self, tenant_id: str) -> dict[str, int]:
        """Resources per type (``User``, ``Group``): the exact counts kept in each write."""
        stmt = select(resource_counts.c.resource_type, resource_counts.c.count).where(
            resource_counts.c.tenant_id == tenant_id
        )
        async with self.db.read() as tx:
            return {kind: int(count) for kind, count in await tx.execute(stmt)}
