"""The directory API (/admin/v1/tenants/{tenant}/directory/…) through the real app: the user's
shape, include=raw, cursor pages, filters by group, role and state, groups, and every bad input
with its error (nothing changed)."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.directory.support import admin_get
from tests.directory.support import admin_ok
from tests.directory.support import grant
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.roles.support import map_role
from tests.roles.support import settle

pytestmark = pytest.mark.anyio

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USERS = "/tenants/acme/directory/users"


async def ada(client: Any) -> str:
    return await create_user(
        client,
        "ada@example.com",
        externalId="00u1",
        displayName="Ada Lovelace",
        title="Engineer",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@home.example", "type": "home"}, {"value": "ada@example.com", "type": "work"}],
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        **{ENTERPRISE: {"department": "R&D", "employeeNumber": "42", "manager": {"value": "boss-1"}}},
    )


async def test_a_directory_user_has_the_documented_shape(app: object, store: SqlStore, acme: TenantAccess) -> None:
    ada_id = await ada(acme.client)
    bob_id = await create_user(acme.client, "bob@example.com", active=False)
    eng = await create_group(acme.client, "Engineering", [ada_id])
    await grant(store, acme.tenant_id, ada_id, "editor", "admin")

    page = await admin_ok(app, USERS)
    scim = (await acme.client.get(f"/Users/{ada_id}")).json()

    first, second = page["users"]
    assert page["next_cursor"] is None
    assert first == {
        "id": ada_id,
        "userName": "ada@example.com",
        "state": "active",
        "email": "ada@example.com",
        "firstName": "Ada",
        "lastName": "Lovelace",
        "displayName": "Ada Lovelace",
        "externalId": "00u1",
        "jobTitle": "Engineer",
        "department": "R&D",
        "employeeNumber": "42",
        "managerId": "boss-1",
        "groups": [{"id": eng, "displayName": "Engineering"}],
        "roles": ["admin", "editor"],
        "createdAt": scim["meta"]["created"],
        "updatedAt": scim["meta"]["lastModified"],
    }
    assert (second["id"], second["state"], second["email"], second["groups"], second["roles"]) == (
        bob_id,
        "inactive",
        None,
        [],
        [],
    )


async def test_include_raw_adds_the_scim_resource_as_get_renders_it(app: object, acme: TenantAccess) -> None:
    ada_id = await ada(acme.client)
    await create_group(acme.client, "Engineering", [ada_id])

    listed = await admin_ok(app, USERS, include="raw")
    one = await admin_ok(app, f"{USERS}/{ada_id}", include="raw")
    plain = await admin_ok(app, f"{USERS}/{ada_id}")
    scim = (await acme.client.get(f"/Users/{ada_id}")).json()

    assert one == listed["users"][0]
    assert one["raw"] == scim  # groups and meta included
    assert plain == {k: v for k, v in one.items() if k != "raw"}


async def test_cursor_pages_walk_every_user_once_in_creation_order(app: object, acme: TenantAccess) -> None:
    ids = [await create_user(acme.client, f"u{i}") for i in range(5)]

    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await admin_ok(app, USERS, **params)
        seen += [u["id"] for u in page["users"]]
        sizes.append(len(page["users"]))
        if page["next_cursor"] is None:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}

    assert seen == ids and sizes == [2, 2, 1]
    changed_limit = await admin_ok(app, USERS, limit=10, cursor=(await admin_ok(app, USERS, limit=1))["next_cursor"])
    assert [u["id"] for u in changed_limit["users"]] == ids[1:]  # limit may change between pages


async def test_filters_by_group_role_and_state_combine(app: object, store: SqlStore, acme: TenantAccess) -> None:
    a, b, c, d = [await create_user(acme.client, name) for name in ("a", "b", "c", "d")]
    inner = await create_group(acme.client, "Inner", [d])
    eng = await create_group(acme.client, "Engineering", [a, b, c, inner])  # a nested group is no user
    await grant(store, acme.tenant_id, a, "admin")
    await grant(store, acme.tenant_id, b, "admin")
    await grant(store, acme.tenant_id, d, "admin")
    await patch(acme.client, f"/Users/{b}", {"op": "replace", "path": "active", "value": False})

    async def ids(path: str = USERS, **params: Any) -> list[str]:
        return [u["id"] for u in (await admin_ok(app, path, **params))["users"]]

    assert await ids(group=eng) == [a, b, c]
    assert await ids(f"/tenants/acme/directory/groups/{eng}/users") == [a, b, c]
    assert await ids(role="admin") == [a, b, d]
    assert await ids(state="inactive") == [b]
    assert await ids(state="active") == [a, c, d]
    assert await ids(group=eng, role="admin") == [a, b]
    assert await ids(group=eng, role="admin", state="active") == [a]
    assert await ids(role="admin", state="inactive") == [b]
    assert await ids(f"/tenants/acme/directory/groups/{eng}/users", role="admin", state="inactive") == [b]
    first = await admin_ok(app, USERS, role="admin", limit=2)
    rest = await admin_ok(app, USERS, role="admin", limit=2, cursor=first["next_cursor"])
    assert [u["id"] for u in first["users"] + rest["users"]] == [a, b, d] and rest["next_cursor"] is None


async def test_groups_list_in_pages(app: object, acme: TenantAccess) -> None:
    ids = [await create_group(acme.client, f"G{i}") for i in range(3)]

    first = await admin_ok(app, "/tenants/acme/directory/groups", limit=2)
    rest = await admin_ok(app, "/tenants/acme/directory/groups", limit=2, cursor=first["next_cursor"])
    scim = (await acme.client.get(f"/Groups/{ids[0]}")).json()

    assert [g["id"] for g in first["groups"] + rest["groups"]] == ids and rest["next_cursor"] is None
    assert first["groups"][0] == {
        "id": ids[0],
        "displayName": "G0",
        "createdAt": scim["meta"]["created"],
        "updatedAt": scim["meta"]["lastModified"],
    }


async def test_a_tenant_sees_only_its_own_directory(app: object, acme: TenantAccess, globex: TenantAccess) -> None:
    mine = await create_user(acme.client, "a")
    group = await create_group(acme.client, "Eng", [mine])
    await create_user(globex.client, "g")

    theirs = await admin_ok(app, "/tenants/globex/directory/users")
    foreign_user = await admin_get(app, f"/tenants/globex/directory/users/{mine}")
    foreign_group = await admin_get(app, "/tenants/globex/directory/users", group=group)

    assert [u["userName"] for u in theirs["users"]] == ["g"]
    assert foreign_user.status_code == 404
    assert foreign_group.status_code == 400 and "No group" in foreign_group.json()["detail"]


BAD_INPUTS = [
    ("/tenants/nope/directory/users", {}, 404, "No tenant named 'nope'"),
    ("/tenants/nope/directory/groups", {}, 404, "No tenant named 'nope'"),
    (USERS, {"cursor": "garbage"}, 400, "Bad cursor: The cursor is not one this server issued"),
    (USERS, {"limit": "ten"}, 400, "limit must be a non-negative integer, got 'ten'"),
    (USERS, {"limit": "-1"}, 400, "limit must be a non-negative integer"),
    (USERS, {"group": "no-such-group"}, 400, "No group 'no-such-group' in tenant 'acme'"),
    (USERS, {"role": "pilot"}, 400, "No role 'pilot' in tenant 'acme'"),
    (USERS, {"state": "disabled"}, 400, "state takes active or inactive, not 'disabled'"),
    (USERS, {"include": "everything"}, 400, "include takes 'raw'"),
    (f"{USERS}/no-such-user", {}, 404, "No user 'no-such-user' in tenant 'acme'"),
    ("/tenants/acme/directory/groups/no-such-group/users", {}, 404, "No group 'no-such-group'"),
    ("/tenants/acme/directory/groups", {"cursor": "x.y"}, 400, "Bad cursor"),
]


@pytest.mark.parametrize(("path", "params", "status", "detail"), BAD_INPUTS)
async def test_bad_input_is_refused_with_its_error_and_changes_nothing(
    app: object, acme: TenantAccess, path: str, params: dict[str, str], status: int, detail: str
) -> None:
    await create_user(acme.client, "a")
    before = (await acme.client.get("/Users")).json()

    response = await admin_get(app, path, **params)

    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert (await acme.client.get("/Users")).json() == before


async def test_a_cursor_continues_only_its_own_query(app: object, store: SqlStore, acme: TenantAccess) -> None:
    a = await create_user(acme.client, "a")
    await create_user(acme.client, "b")
    group = await create_group(acme.client, "Eng", [a])
    cursor = (await admin_ok(app, USERS, limit=1))["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")

    other_filter = await admin_get(app, USERS, limit=1, cursor=cursor, state="active")
    other_list = await admin_get(app, "/tenants/acme/directory/groups", cursor=cursor)
    on_group_path = await admin_get(app, f"/tenants/acme/directory/groups/{group}/users", group=group)
    altered = await admin_get(app, USERS, cursor=tampered)

    assert other_filter.status_code == other_list.status_code == 400
    assert "belongs to a different query" in other_filter.json()["detail"]
    assert "belongs to a different query" in other_list.json()["detail"]
    assert on_group_path.status_code == 400 and "drop the group parameter" in on_group_path.json()["detail"]
    assert altered.status_code == 400 and "not one this server issued" in altered.json()["detail"]


async def test_limit_is_clamped_as_the_feed_s(app: object, acme: TenantAccess) -> None:
    for name in ("a", "b"):
        await create_user(acme.client, name)

    zero = await admin_ok(app, USERS, limit=0)
    huge = await admin_ok(app, USERS, limit=5000)

    assert len(zero["users"]) == 1 and zero["next_cursor"] is not None
    assert len(huge["users"]) == 2 and huge["next_cursor"] is None


async def test_roles_from_role_mapping_show_and_filter(app: object, store: SqlStore, acme: TenantAccess) -> None:
    ada_id, bob_id = await create_user(acme.client, "ada"), await create_user(acme.client, "bob")
    await map_role(app, "member", group="Everyone")
    await settle(store, acme.tenant_id)
    await create_group(acme.client, "Everyone", [ada_id])

    members = await admin_ok(app, USERS, role="member")
    everyone = await admin_ok(app, USERS)
    created = [e for e in await feed(app) if e["type"] == "user.created"]

    assert [u["id"] for u in members["users"]] == [ada_id]
    assert [(u["id"], u["roles"]) for u in everyone["users"]] == [(ada_id, ["member"]), (bob_id, [])]
    # the events' user has the roles the user has when the event is read
    assert [e["user"]["roles"] for e in created] == [["member"], []]
