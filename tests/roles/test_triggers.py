"""Each trigger of a role change gives the right roles and exactly one ``user.roles_changed`` per
affected user, in the write's transaction (its events are in the feed when the response comes)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import delete
from sqlalchemy import select

from scimhub.store.roles_sql import NO_RULES
from scimhub.store.sql import SqlStore
from scimhub.store.tables import role_state
from tests.conftest import TenantAccess
from tests.events.support import GROUP
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import patch
from tests.roles.support import last_seq
from tests.roles.support import map_role
from tests.roles.support import role_events
from tests.roles.support import roles_of

pytestmark = pytest.mark.anyio


def _per_user(events: list[dict[str, object]]) -> Counter[object]:
    return Counter(e["id"] for e in events)


async def test_member_add_and_remove_give_and_take_the_role(app: object, store: SqlStore, acme: TenantAccess) -> None:
    await map_role(app, "admin", group="Admins")
    alice = await create_user(acme.client, "alice")
    group = await create_group(acme.client, "ADMINS")  # displayName compared case-insensitively
    seq = await last_seq(app)

    added = await patch(acme.client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": alice}]})

    assert added.status_code == 204
    assert await role_events(app, seq) == [{"id": alice, "userName": "alice", "before": [], "after": ["admin"]}]
    assert await roles_of(store, acme.tenant_id, alice) == {alice: ["admin"]}
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{alice}"]'})

    assert await role_events(app, seq) == [{"id": alice, "userName": "alice", "before": ["admin"], "after": []}]
    assert await roles_of(store, acme.tenant_id, alice) == {alice: []}


async def test_a_member_change_of_a_group_no_rule_names_changes_no_role(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    await map_role(app, "admin", group="Admins")
    alice = await create_user(acme.client, "alice")
    group = await create_group(acme.client, "Everyone")
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": alice}]})

    assert await role_events(app, seq) == []
    assert await roles_of(store, acme.tenant_id, alice) == {alice: []}


async def test_bulk_member_patch_one_event_per_affected_user(app: object, store: SqlStore, acme: TenantAccess) -> None:
    await map_role(app, "staff", group="Staff")
    await map_role(app, "eng", group="Engineering")
    users = [await create_user(acme.client, f"user{i}") for i in range(60)]
    await create_group(acme.client, "Engineering", users[:10])
    staff = await create_group(acme.client, "Staff")
    seq = await last_seq(app)

    await patch(
        acme.client, f"/Groups/{staff}", {"op": "add", "path": "members", "value": [{"value": u} for u in users]}
    )

    events = await role_events(app, seq)
    assert _per_user(events) == Counter(users)  # exactly one each
    stored = await roles_of(store, acme.tenant_id, *users)
    assert all(stored[u] == ["eng", "staff"] for u in users[:10])
    assert all(stored[u] == ["staff"] for u in users[10:])
    assert {e["id"]: e["after"] for e in events} == stored


async def test_group_rename_gives_and_takes_roles_by_display_name(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    await map_role(app, "admin", group="Admins")
    users = [await create_user(acme.client, f"user{i}") for i in range(3)]
    group = await create_group(acme.client, "Helpdesk", users)
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "replace", "path": "displayName", "value": "admins"})

    assert _per_user(await role_events(app, seq)) == Counter(users)
    assert await roles_of(store, acme.tenant_id, *users) == {u: ["admin"] for u in users}
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "replace", "path": "displayName", "value": "Former admins"})

    assert [(e["before"], e["after"]) for e in await role_events(app, seq)] == [(["admin"], [])] * 3
    assert await roles_of(store, acme.tenant_id, *users) == {u: [] for u in users}


async def test_group_replace_renames_and_changes_members_in_one_event_each(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    await map_role(app, "admin", group="Admins")
    await map_role(app, "sales", groupExternalId="SALES-1")
    a, b, c = [await create_user(acme.client, n) for n in ("a", "b", "c")]
    group = await create_group(acme.client, "Admins", [a, b])
    seq = await last_seq(app)

    body = {
        "schemas": [GROUP],
        "displayName": "Sales team",
        "externalId": "SALES-1",
        "members": [{"value": b}, {"value": c}],
    }
    replaced = await acme.client.put(f"/Groups/{group}", json=body)

    assert replaced.status_code == 200, replaced.text
    events = {e["id"]: (e["before"], e["after"]) for e in await role_events(app, seq)}
    assert events == {a: (["admin"], []), b: (["admin"], ["sales"]), c: ([], ["sales"])}
    assert await roles_of(store, acme.tenant_id, a, b, c) == {a: [], b: ["sales"], c: ["sales"]}


async def test_group_delete_takes_the_role_from_its_members(app: object, store: SqlStore, acme: TenantAccess) -> None:
    await map_role(app, "admin", group="Admins")
    await map_role(app, "admin", group="Owners")
    a, b = await create_user(acme.client, "a"), await create_user(acme.client, "b")
    admins = await create_group(acme.client, "Admins", [a, b])
    await create_group(acme.client, "Owners", [b])
    seq = await last_seq(app)

    deleted = await acme.client.delete(f"/Groups/{admins}")

    assert deleted.status_code == 204
    assert await role_events(app, seq) == [{"id": a, "userName": "a", "before": ["admin"], "after": []}]
    assert await roles_of(store, acme.tenant_id, a, b) == {a: [], b: ["admin"]}


async def test_group_id_rule(app: object, store: SqlStore, acme: TenantAccess) -> None:
    a = await create_user(acme.client, "a")
    group = await create_group(acme.client, "Anything")
    await map_role(app, "viewer", groupId=group)
    seq = await last_seq(app)

    await patch(acme.client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": a}]})

    assert [e["after"] for e in await role_events(app, seq)] == [["viewer"]]


async def test_scim_roles_change_and_user_delete(app: object, store: SqlStore, acme: TenantAccess) -> None:
    await map_role(app, "writer", scimRole="Editor")
    created = await acme.client.post(
        "/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ed",
            "roles": [{"value": "EDITOR"}],
        },
    )
    ed = created.json()["id"]
    assert await role_events(app) == [{"id": ed, "userName": "ed", "before": [], "after": ["writer"]}]
    seq = await last_seq(app)

    await patch(acme.client, f"/Users/{ed}", {"op": "replace", "path": "roles", "value": [{"value": "reader"}]})

    assert await role_events(app, seq) == [{"id": ed, "userName": "ed", "before": ["writer"], "after": []}]
    await patch(acme.client, f"/Users/{ed}", {"op": "add", "path": "roles", "value": [{"value": "editor"}]})
    seq = await last_seq(app)

    assert (await acme.client.delete(f"/Users/{ed}")).status_code == 204

    assert await role_events(app, seq) == [{"id": ed, "userName": "ed", "before": ["writer"], "after": []}]


async def test_a_patch_that_leaves_roles_alone_reads_no_role_state(
    app: object, store: SqlStore, acme: TenantAccess, hot_statements: list[str]
) -> None:
    await map_role(app, "writer", scimRole="Editor")
    ed = await create_user(acme.client, "ed")
    hot_statements.clear()

    await patch(acme.client, f"/Users/{ed}", {"op": "replace", "path": "active", "value": False})

    assert not [s for s in hot_statements if "role_state" in s or "user_roles" in s]


async def test_a_new_tenants_first_create_reads_its_role_state_and_makes_none(
    app: object, store: SqlStore, acme: TenantAccess, hot_statements: list[str]
) -> None:
    await create_user(acme.client, "first")  # the tenant's first write

    # One read (PostgreSQL: inside the create's one statement), no insert: made with the tenant.
    [touching] = [s for s in hot_statements if "role_state" in s]
    assert "INSERT INTO role_state" not in touching
    # A tenant that never had rules holds no rule set of its own in the cache.
    assert store.role_rules.get(acme.tenant_id, 0) is NO_RULES


async def test_a_tenant_without_a_role_state_row_gets_one_on_its_first_write(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    async with store.db.write() as tx:  # as a tenant made before the row was made with it
        await tx.execute(delete(role_state).where(role_state.c.tenant_id == acme.tenant_id))

    alice = await create_user(acme.client, "alice")
    await map_role(app, "member", scimRole="Member")  # locks the row the first write made

    async with store.db.read() as tx:
        rows = (await tx.execute(select(role_state.c.version).where(role_state.c.tenant_id == acme.tenant_id))).all()
    assert len(rows) == 1 and rows[0].version > 0
    assert await roles_of(store, acme.tenant_id, alice) == {alice: []}
