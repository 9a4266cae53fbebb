"""Rule changes and recomputes while member changes commit: every user ends with the roles its
groups give it (PostgreSQL runs them concurrently; SQLite one writer at a time)."""

from __future__ import annotations

import asyncio

import pytest

from scimhub.protocol.roles import RoleService
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import patch
from tests.roles.support import role_events
from tests.roles.support import roles_of
from tests.roles.support import settle

pytestmark = pytest.mark.anyio


async def test_member_changes_during_a_rule_change_and_its_recompute(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    users = [await create_user(acme.client, f"user{i}") for i in range(40)]
    group = await create_group(acme.client, "Admins", users[:20])
    service = RoleService(store, RoleStore(store.db))

    async def members() -> None:
        for user in users[20:]:
            add = {"op": "add", "path": "members", "value": [{"value": user}]}
            assert (await patch(acme.client, f"/Groups/{group}", add)).status_code == 204
        for user in users[:10]:
            assert (
                await patch(acme.client, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{user}"]'})
            ).status_code == 204

    async def rule() -> None:
        await service.map(acme.tenant_id, "admin", "group", "Admins")
        while (status := await service.step(acme.tenant_id, limit=3)) is not None and not status.finished_at:
            await asyncio.sleep(0)

    await asyncio.gather(members(), rule())
    await settle(store, acme.tenant_id)

    assert await roles_of(store, acme.tenant_id, *users) == {u: [] if u in users[:10] else ["admin"] for u in users}
    # The events replay to the same state: each user's last event says what it has now.
    last = {e["id"]: e["after"] for e in await role_events(app)}
    assert {u: last.get(u, []) for u in users} == await roles_of(store, acme.tenant_id, *users)


async def test_a_named_group_of_more_than_one_batch(app: object, store: SqlStore, acme: TenantAccess) -> None:
    users = [await create_user(acme.client, f"user{i}") for i in range(520)]  # more than 500 (one IN list)
    await RoleService(store, RoleStore(store.db)).map(acme.tenant_id, "staff", "group", "Staff")
    await settle(store, acme.tenant_id)

    group = await create_group(acme.client, "Staff", users)
    assert len(await role_events(app)) == 520
    assert set(map(tuple, (await roles_of(store, acme.tenant_id, *users)).values())) == {("staff",)}

    assert (await acme.client.delete(f"/Groups/{group}")).status_code == 204

    assert len(await role_events(app)) == 1040
    assert set(map(tuple, (await roles_of(store, acme.tenant_id, *users)).values())) == {()}
