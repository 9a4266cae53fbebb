"""Helpers of the roles tests: rules through the admin API, roles as stored, the events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from scimhub.directory.roles import JobStatus
from scimhub.protocol.roles import RoleService
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore
from scimhub.store.tables import resources
from tests.events.support import admin_client
from tests.events.support import feed


async def map_role(app: object, role: str, tenant: str = "acme", **rule: Any) -> dict[str, Any]:
    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/{tenant}/roles", json={"role": role, **rule})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def settle(store: SqlStore, tenant_id: str) -> JobStatus | None:
    """Run the tenant's recompute to its end, as a server's runner would."""
    return await RoleService(store, RoleStore(store.db)).finish(tenant_id)


async def roles_of(store: SqlStore, tenant_id: str, *user_ids: str) -> dict[str, list[str]]:
    """Each user's stored roles, by id (every id given appears)."""
    async with store.db.read() as tx:
        stmt = select(resources.c.id, resources.c.pk).where(
            resources.c.tenant_id == tenant_id, resources.c.id.in_(user_ids)
        )
        pks = {row.id: row.pk for row in await tx.execute(stmt)}
    stored = await store.roles_of_users(tenant_id, list(pks.values()))
    return {user_id: stored.get(pks[user_id], []) for user_id in user_ids}


async def role_events(app: object, after: int = 0, tenant: str = "acme") -> list[dict[str, Any]]:
    """The data of every ``user.roles_changed`` after ``after``, in order (the feed, page by page)."""
    found = []
    while page := await feed(app, tenant, after):
        found += [e["data"] for e in page if e["type"] == "user.roles_changed"]
        after = page[-1]["seq"]
    return found


async def last_seq(app: object, tenant: str = "acme") -> int:
    events = await feed(app, tenant)
    return int(events[-1]["seq"]) if events else 0
