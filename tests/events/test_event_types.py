"""Which events each change emits: deprovisioning in every form IdPs send, reactivation, group
membership deltas, deletion (RFC 9967 provisioning events; the README's "Events" table)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.events.support import USER
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

DEACTIVATIONS = [
    pytest.param("PATCH", [{"op": "Replace", "path": "active", "value": "False"}], id="entra-string-False"),
    pytest.param("PATCH", [{"op": "replace", "path": "active", "value": False}], id="path-active-false"),
    pytest.param("PATCH", [{"op": "replace", "value": {"active": False}}], id="okta-pathless-replace"),
    pytest.param("PUT", None, id="put-active-false"),
]


async def _deactivate(acme: TenantAccess, user_id: str, method: str, operations: list[dict[str, Any]] | None) -> None:
    if method == "PUT":
        body = {"schemas": [USER], "userName": "alice", "displayName": "Alice", "active": False}
        response = await acme.client.put(f"/Users/{user_id}", json=body)
    else:
        response = await patch(acme.client, f"/Users/{user_id}", *(operations or []))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "operations"), DEACTIVATIONS)
async def test_every_deprovisioning_form_emits_user_deactivated(
    app: object, acme: TenantAccess, method: str, operations: list[dict[str, Any]] | None
) -> None:
    user_id = await create_user(acme.client, "alice", displayName="Alice", active=True)

    await _deactivate(acme, user_id, method, operations)

    last = (await feed(app))[-1]
    assert last["type"] == "user.deactivated"
    assert last["resourceId"] == user_id
    assert last["changes"] == [{"path": "active", "before": True, "after": False}]
    assert last["rfc9967"]["uri"] == "urn:ietf:params:scim:event:prov:deactivate"
    assert last["resource"]["active"] is False
    assert last["tokenId"] == acme.token_id


async def test_a_deactivated_user_stays_readable_filterable_and_can_be_reactivated(
    app: object, acme: TenantAccess
) -> None:
    user_id = await create_user(acme.client, "alice", active=True)
    await create_user(acme.client, "bob", active=True)
    await _deactivate(acme, user_id, "PATCH", [{"op": "replace", "path": "active", "value": False}])

    assert (await acme.client.get(f"/Users/{user_id}")).json()["active"] is False
    inactive = (await acme.client.get("/Users", params={"filter": "active eq false"})).json()
    assert [u["id"] for u in inactive["Resources"]] == [user_id]

    response = await patch(acme.client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": True})

    assert response.status_code == 200
    last = (await feed(app))[-1]
    assert last["type"] == "user.reactivated"
    assert last["rfc9967"]["uri"] == "urn:ietf:params:scim:event:prov:activate"


async def test_a_deactivation_with_other_changes_emits_both_events(app: object, acme: TenantAccess) -> None:
    user_id = await create_user(acme.client, "alice", active=True)

    await patch(
        acme.client,
        f"/Users/{user_id}",
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "title", "value": "Former"},
    )

    events = (await feed(app))[1:]
    assert [e["type"] for e in events] == ["user.deactivated", "user.updated"]
    assert events[1]["changes"] == [{"path": "title", "before": None, "after": "Former"}]


async def test_an_unchanged_write_emits_nothing(app: object, acme: TenantAccess) -> None:
    user_id = await create_user(acme.client, "alice", active=False)

    await _deactivate(acme, user_id, "PATCH", [{"op": "replace", "path": "active", "value": False}])

    assert [e["type"] for e in await feed(app)] == ["user.created"]


async def test_group_membership_changes_carry_the_member_ids(app: object, acme: TenantAccess) -> None:
    alice, bob, carol = [await create_user(acme.client, n) for n in ("alice", "bob", "carol")]
    group = await create_group(acme.client, "Engineering", [alice])

    await patch(
        acme.client, f"/Groups/{group}", {"op": "add", "path": "members", "value": [{"value": bob}, {"value": carol}]}
    )
    await patch(acme.client, f"/Groups/{group}", {"op": "remove", "path": f'members[value eq "{alice}"]'})

    events = [e for e in await feed(app) if e["resourceType"] == "Group"]
    assert [e["type"] for e in events] == [
        "group.created",
        "group.member_added",
        "group.member_added",
        "group.member_removed",
    ]
    assert events[1]["members"] == [alice]
    assert events[2]["members"] == [bob, carol]
    assert events[3]["members"] == [alice]
    assert all(e["resourceId"] == group for e in events)


async def test_delete_removes_the_user_from_the_api_and_its_groups_but_keeps_its_history(
    app: object, acme: TenantAccess
) -> None:
    alice = await create_user(acme.client, "alice")
    group = await create_group(acme.client, "Engineering", [alice])

    assert (await acme.client.delete(f"/Users/{alice}")).status_code == 204

    assert (await acme.client.get(f"/Users/{alice}")).status_code == 404
    assert (await acme.client.get(f"/Groups/{group}")).json().get("members", []) == []
    events = await feed(app)
    assert [e["type"] for e in events[-2:]] == ["user.deleted", "group.member_removed"]
    assert events[-2]["resourceId"] == alice
    assert "resource" not in events[-2]
    assert (events[-1]["resourceId"], events[-1]["members"]) == (group, [alice])
    assert [e["type"] for e in events if e["resourceId"] == alice] == ["user.created", "user.deleted"]
