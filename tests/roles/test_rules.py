"""Rule changes: a recompute of every user, a bounded batch a transaction, one event per user whose
roles changed; ``highest`` mode and priorities; the default role; the admin API's refusals."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from scimhub.protocol.roles import RoleService
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.events.support import admin_client
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import patch
from tests.roles.support import last_seq
from tests.roles.support import map_role
from tests.roles.support import role_events
from tests.roles.support import roles_of
from tests.roles.support import settle

pytestmark = pytest.mark.anyio


async def _overview(app: object) -> dict[str, Any]:
    async with admin_client(app) as admin:
        response = await admin.get("/tenants/acme/roles")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_rule_add_and_remove_recompute_existing_users_in_batches(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    users = [await create_user(acme.client, f"user{i}") for i in range(25)]
    await create_group(acme.client, "Admins", users[:7])
    seq = await last_seq(app)

    added = await map_role(app, "admin", group="admins")

    assert added["recompute"]["finished"] is False
    service = RoleService(store, RoleStore(store.db))
    steps = []
    status = await service.step(acme.tenant_id, limit=10)
    while status is not None and not status.finished_at:
        steps.append(status.done)
        status = await service.step(acme.tenant_id, limit=10)
    assert steps == [10, 20]  # bounded: ten users a transaction
    assert status is not None and (status.done, status.changed) == (25, 7)
    async with admin_client(app) as admin:
        recompute = (await admin.get("/tenants/acme/roles/recompute")).json()["recompute"]
        settings = (await admin.get("/tenants/acme/roles/settings")).json()
    assert recompute["finished"] is True and recompute["usersDone"] == 25 and recompute["usersChanged"] == 7
    assert recompute == (await _overview(app))["recompute"]
    assert settings == {"mode": "all", "default": None}
    assert Counter(e["id"] for e in await role_events(app, seq)) == Counter(users[:7])
    seq = await last_seq(app)

    async with admin_client(app) as admin:
        removed = await admin.delete(f"/tenants/acme/roles/{added['rule']['id']}")
    assert removed.status_code == 200, removed.text
    await settle(store, acme.tenant_id)

    assert [(e["id"], e["after"]) for e in await role_events(app, seq)] == [(u, []) for u in users[:7]]
    assert (await _overview(app))["rules"] == []


async def test_writes_during_a_recompute_use_the_new_rules(app: object, store: SqlStore, acme: TenantAccess) -> None:
    users = [await create_user(acme.client, f"user{i}") for i in range(6)]
    group = await create_group(acme.client, "Admins", users[:3])
    await map_role(app, "admin", group="Admins")
    service = RoleService(store, RoleStore(store.db))
    await service.step(acme.tenant_id, limit=2)  # the first two users done, the rest not yet
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": users[5]}]})
    await settle(store, acme.tenant_id)

    assert Counter(e["id"] for e in await role_events(app, seq)) == Counter([users[5], users[2]])
    assert await roles_of(store, acme.tenant_id, *users) == {
        u: ["admin"] if u in (*users[:3], users[5]) else [] for u in users
    }


async def test_highest_mode_priorities_and_default(app: object, store: SqlStore, acme: TenantAccess) -> None:
    await map_role(app, "owner", group="Owners", priority=100)
    await map_role(app, "admin", group="Admins", priority=50)
    await map_role(app, "member", group="Staff")
    a, b, c, d = [await create_user(acme.client, n) for n in "abcd"]
    await create_group(acme.client, "Owners", [a])
    await create_group(acme.client, "Admins", [a, b])
    await create_group(acme.client, "Staff", [a, b, c])
    assert await roles_of(store, acme.tenant_id, a, b, c, d) == {
        a: ["admin", "member", "owner"],
        b: ["admin", "member"],
        c: ["member"],
        d: [],
    }
    seq = await last_seq(app)

    async with admin_client(app) as admin:
        response = await admin.put("/tenants/acme/roles/settings", json={"mode": "highest", "default": "guest"})
    assert response.status_code == 200, response.text
    assert (response.json()["mode"], response.json()["default"]) == ("highest", "guest")
    await settle(store, acme.tenant_id)

    expected = {a: ["owner"], b: ["admin"], c: ["member"], d: ["guest"]}
    assert await roles_of(store, acme.tenant_id, a, b, c, d) == expected
    assert {e["id"]: e["after"] for e in await role_events(app, seq)} == {a: ["owner"], b: ["admin"], d: ["guest"]}
    # A new user no rule applies to gets the default at once.
    e = await create_user(acme.client, "e")
    assert await roles_of(store, acme.tenant_id, e) == {e: ["guest"]}


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"group": "Admins"}, "Send"),
        ({"role": "admin"}, "Send"),
        ({"role": "admin", "group": "A", "groupId": "x"}, "Send"),
        ({"role": "admin", "group": "A", "colour": "red"}, "unknown: colour"),
        ({"role": "admin", "group": "A", "priority": "high"}, "priority must be an integer"),
        ({"role": " ", "group": "A"}, "A role name is 1 to 200"),
        ({"role": "admin", "group": ""}, "1 to 1024 characters"),
        ({"role": "admin", "group": "A", "priority": 10**9}, "A priority is between"),
    ],
)
async def test_a_bad_rule_is_refused_and_changes_nothing(
    app: object, acme: TenantAccess, body: dict[str, Any], detail: str
) -> None:
    before = await _overview(app)
    async with admin_client(app) as admin:
        response = await admin.post("/tenants/acme/roles", json=body)

    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert await _overview(app) == before


async def test_a_duplicate_rule_an_unknown_rule_and_bad_settings_are_refused(app: object, acme: TenantAccess) -> None:
    await map_role(app, "admin", group="Admins")
    before = await _overview(app)
    async with admin_client(app) as admin:
        duplicate = await admin.post("/tenants/acme/roles", json={"role": "admin", "group": "ADMINS"})
        unknown = await admin.delete("/tenants/acme/roles/no-such-rule")
        bad_mode = await admin.put("/tenants/acme/roles/settings", json={"mode": "most", "default": "guest"})
        bad_default = await admin.put("/tenants/acme/roles/settings", json={"default": 7})
        no_tenant = await admin.get("/tenants/nobody/roles")

    assert (duplicate.status_code, unknown.status_code) == (400, 404)
    assert "already maps" in duplicate.json()["detail"]
    assert "No such role rule" in unknown.json()["detail"]
    assert bad_mode.status_code == 400 and "'all' or 'highest'" in bad_mode.json()["detail"]
    assert bad_default.status_code == 400 and "role name or null" in bad_default.json()["detail"]
    assert no_tenant.status_code == 404
    assert await _overview(app) == before  # the default was not set either


async def test_rules_are_per_tenant(app: object, store: SqlStore, acme: TenantAccess, globex: TenantAccess) -> None:
    await map_role(app, "admin", group="Admins")
    a = await create_user(globex.client, "a")
    await create_group(globex.client, "Admins", [a])

    assert await roles_of(store, globex.tenant_id, a) == {a: []}
    assert await role_events(app, tenant="globex") == []
