"""Groups and membership (RFC 7643 §4.2, RFC 7644 §3.5.2), in the forms Okta and Entra send."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import GROUP
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body
from tests.http.scim_checks import member_ids
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio


async def _users(client: httpx2.AsyncClient, *names: str) -> list[str]:
    return [(await create_user(client, name, displayName=name.title()))["id"] for name in names]


# -- create and read --------------------------------------------------------------------------


async def test_a_group_without_members_is_created_with_no_members(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Groups", json={"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []})

    assert response.status_code == 201
    created = response.json()
    assert created["displayName"] == "Test SCIMv2"
    assert created["schemas"] == [GROUP]
    assert created.get("members", []) == []
    assert created["meta"]["resourceType"] == "Group"
    assert created["meta"]["location"] == f"{SCIM}/Groups/{created['id']}"
    assert response.headers["Location"] == created["meta"]["location"]
    assert response.headers["ETag"] == created["meta"]["version"]
    assert await get_ok(client, f"/Groups/{created['id']}") == created


async def test_entras_group_create_with_a_microsoft_schema_uri_is_accepted(client: httpx2.AsyncClient) -> None:
    body = {
        "schemas": [GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "meta": {"resourceType": "Group"},
    }

    response = await client.post("/Groups", json=body)

    assert response.status_code == 201, response.text
    assert response.json()["externalId"] == body["externalId"]
    assert response.json()["schemas"] == [GROUP]


async def test_a_group_created_with_members_renders_value_ref_type_and_display(
    client: httpx2.AsyncClient,
) -> None:
    alice, bob = await _users(client, "alice", "bob")

    created = await create_group(client, "Tour Guides", [alice, bob])

    assert sorted(created["members"], key=lambda m: m["display"]) == [
        {"value": alice, "$ref": f"{SCIM}/Users/{alice}", "type": "User", "display": "Alice"},
        {"value": bob, "$ref": f"{SCIM}/Users/{bob}", "type": "User", "display": "Bob"},
    ]
    assert await get_ok(client, f"/Groups/{created['id']}") == created


async def test_a_member_display_falls_back_to_the_user_name(client: httpx2.AsyncClient) -> None:
    plain = (await create_user(client, "plain@example.com"))["id"]

    created = await create_group(client, "G", [plain])

    assert created["members"][0]["display"] == "plain@example.com"


async def test_a_group_can_be_a_member_of_a_group(client: httpx2.AsyncClient) -> None:
    inner = await create_group(client, "Inner")

    outer = await create_group(client, "Outer", [inner["id"]])

    assert outer["members"] == [
        {"value": inner["id"], "$ref": f"{SCIM}/Groups/{inner['id']}", "type": "Group", "display": "Inner"}
    ]


async def test_a_member_display_follows_the_users_display_name(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])

    await patch_ok(client, f"/Users/{alice}", {"op": "replace", "path": "displayName", "value": "Alice Liddell"})

    fetched = await get_ok(client, f"/Groups/{group['id']}")
    assert fetched["members"][0]["display"] == "Alice Liddell"


async def test_listing_groups_with_excluded_members_omits_members_only(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Tour Guides", [alice], externalId="ext-1")

    listed = await get_ok(client, "/Groups", params={"excludedAttributes": "members"})

    (resource,) = assert_list_response(listed, total=1)
    assert "members" not in resource
    assert resource == {k: v for k, v in group.items() if k != "members"}


async def test_getting_a_group_with_excluded_members_has_no_members(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Tour Guides", [alice])

    fetched = await get_ok(client, f"/Groups/{group['id']}", params={"excludedAttributes": "members"})

    assert "members" not in fetched
    assert fetched["id"] == group["id"]
    assert fetched["displayName"] == "Tour Guides"


async def test_entras_match_query_filters_by_display_name_without_members(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Tour Guides", [alice])
    await create_group(client, "Other")

    found = await get_ok(
        client, "/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "Tour Guides"'}
    )

    (resource,) = assert_list_response(found, total=1)
    assert resource["id"] == group["id"]
    assert "members" not in resource


async def test_a_group_display_name_filter_is_case_insensitive(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "Tour Guides")

    found = await search(client, "/Groups", 'displayName eq "TOUR GUIDES"')

    assert [r["id"] for r in assert_list_response(found, total=1)] == [group["id"]]


async def test_a_group_display_name_filter_without_match_is_empty(client: httpx2.AsyncClient) -> None:
    await create_group(client, "Tour Guides")

    found = await search(client, "/Groups", 'displayName eq "Tour"')

    assert assert_list_response(found, total=0) == []


async def test_getting_an_unknown_group_answers_404(client: httpx2.AsyncClient) -> None:
    assert_scim_error(await client.get(f"/Groups/{UNKNOWN_ID}"), 404)


async def test_a_group_without_display_name_is_refused(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Groups", json={"schemas": [GROUP], "members": []})

    assert_scim_error(response, 400, "invalidValue")
    assert assert_list_response(await get_ok(client, "/Groups"), total=0) == []


# -- PATCH members --------------------------------------------------------------------------------


async def test_entras_add_members_with_null_ref_adds_them(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G")

    await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": alice}, {"$ref": None, "value": bob}]},
    )

    assert await member_ids(client, group["id"]) == sorted([alice, bob])


async def test_adding_members_bumps_the_group_version(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G")

    patched = await patch_ok(
        client, f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": alice}]}
    )

    assert patched["meta"]["version"] != group["meta"]["version"]


async def test_adding_a_member_twice_is_idempotent(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])

    patched = await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": alice}, {"value": bob}, {"value": bob}]},
    )
    again = await patch_ok(
        client, f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": bob}]}
    )

    assert sorted(m["value"] for m in patched["members"]) == sorted([alice, bob])
    assert again == patched  # nothing changed: same version and lastModified


async def test_remove_by_value_filter_path_removes_only_that_member(client: httpx2.AsyncClient) -> None:
    alice, bob, carol = await _users(client, "alice", "bob", "carol")
    group = await create_group(client, "G", [alice, bob, carol])

    await patch_ok(client, f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{bob}"]'})

    assert await member_ids(client, group["id"]) == sorted([alice, carol])


async def test_entras_remove_with_a_value_array_removes_only_those_members(client: httpx2.AsyncClient) -> None:
    alice, bob, carol = await _users(client, "alice", "bob", "carol")
    group = await create_group(client, "G", [alice, bob, carol])

    await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": alice}, {"value": carol}]},
    )

    assert await member_ids(client, group["id"]) == [bob]


async def test_remove_of_members_without_value_removes_all_members(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice, bob])

    patched = await patch_ok(client, f"/Groups/{group['id']}", {"op": "remove", "path": "members"})

    assert patched.get("members", []) == []
    assert await member_ids(client, group["id"]) == []


async def test_oktas_remove_then_add_in_one_request_applies_both_in_order(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])

    await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "remove", "path": f'members[value eq "{alice}"]'},
        {"op": "add", "path": "members", "value": [{"value": bob, "display": "bob"}]},
    )

    assert await member_ids(client, group["id"]) == [bob]


async def test_oktas_remove_and_re_add_of_the_same_member_keeps_it(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])

    await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "remove", "path": f'members[value eq "{alice}"]'},
        {"op": "add", "path": "members", "value": [{"value": alice}]},
    )

    assert await member_ids(client, group["id"]) == [alice]


async def test_replace_members_sets_exactly_the_given_members(client: httpx2.AsyncClient) -> None:
    alice, bob, carol = await _users(client, "alice", "bob", "carol")
    group = await create_group(client, "G", [alice, bob])

    await patch_ok(
        client,
        f"/Groups/{group['id']}",
        {"op": "replace", "path": "members", "value": [{"value": bob}, {"value": carol}]},
    )

    assert await member_ids(client, group["id"]) == sorted([bob, carol])


async def test_replace_members_with_an_empty_list_removes_every_member(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice, bob])

    await patch_ok(client, f"/Groups/{group['id']}", {"op": "replace", "path": "members", "value": []})

    assert await member_ids(client, group["id"]) == []


async def test_oktas_pathless_rename_with_the_read_only_id_renames_the_group(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Old", [alice])

    patched = await patch_ok(
        client, f"/Groups/{group['id']}", {"op": "replace", "value": {"id": group["id"], "displayName": "New"}}
    )

    assert patched["id"] == group["id"]
    assert patched["displayName"] == "New"
    assert await member_ids(client, group["id"]) == [alice]


async def test_entras_rename_by_path_renames_the_group(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "Old")

    await patch_ok(client, f"/Groups/{group['id']}", {"op": "Replace", "path": "displayName", "value": "New"})

    assert (await get_ok(client, f"/Groups/{group['id']}"))["displayName"] == "New"
    assert (await search(client, "/Groups", 'displayName eq "New"'))["totalResults"] == 1


async def test_removing_a_member_that_is_not_there_changes_nothing(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])

    patched = await patch_ok(client, f"/Groups/{group['id']}", {"op": "remove", "path": f'members[value eq "{bob}"]'})

    assert patched == group


async def test_a_group_patch_without_attributes_answers_204_with_the_new_etag(client: httpx2.AsyncClient) -> None:
    """RFC 7644 §3.5.2: 200 carries the entire resource, or 204; Okta and Entra accept 204."""
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])
    operation = {"op": "add", "path": "members", "value": [{"value": bob}]}

    plain = await client.patch(f"/Groups/{group['id']}", json=patch_body(operation))

    assert plain.status_code == 204
    assert plain.content == b""
    assert "content-type" not in plain.headers
    after = await get_ok(client, f"/Groups/{group['id']}")
    assert plain.headers["etag"] == after["meta"]["version"] != group["meta"]["version"]
    assert sorted(m["value"] for m in after["members"]) == sorted([alice, bob])


async def test_a_group_patch_with_attributes_answers_exactly_those(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])
    operation = {"op": "add", "path": "members", "value": [{"value": bob}]}

    asked = await client.patch(f"/Groups/{group['id']}?attributes=members,displayName", json=patch_body(operation))

    assert asked.status_code == 200, asked.text
    assert set(asked.json()) == {"schemas", "id", "displayName", "members"}
    assert sorted(m["value"] for m in asked.json()["members"]) == sorted([alice, bob])


async def test_a_group_patch_with_excluded_attributes_answers_the_rest(client: httpx2.AsyncClient) -> None:
    """Entra's ``excludedAttributes=members``: the group without its member list."""
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])

    response = await client.patch(
        f"/Groups/{group['id']}?excludedAttributes=members",
        json=patch_body({"op": "replace", "path": "displayName", "value": "H"}),
    )

    assert response.status_code == 200, response.text
    expected = {k: v for k, v in (await get_ok(client, f"/Groups/{group['id']}")).items() if k != "members"}
    assert response.json() == expected


async def test_a_user_patch_still_answers_200_with_the_user(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")

    response = await client.patch(
        f"/Users/{alice}", json=patch_body({"op": "replace", "path": "displayName", "value": "Alice"})
    )

    assert response.status_code == 200, response.text
    assert response.json() == await get_ok(client, f"/Users/{alice}")


# -- unknown members ------------------------------------------------------------------------------


async def test_creating_a_group_with_an_unknown_member_answers_400_naming_it(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    before = await snapshot(client)

    response = await client.post("/Groups", json=group_body("G", [alice, UNKNOWN_ID]))

    body = assert_scim_error(response, 400, "invalidValue")
    assert UNKNOWN_ID in body["detail"]
    assert await snapshot(client) == before


async def test_adding_an_unknown_member_answers_400_naming_it_and_changes_nothing(
    client: httpx2.AsyncClient,
) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice])
    before = await snapshot(client)

    response = await client.patch(
        f"/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": bob}, {"value": UNKNOWN_ID}]}),
    )

    body = assert_scim_error(response, 400, "invalidValue")
    assert UNKNOWN_ID in body["detail"]
    assert await snapshot(client) == before


async def test_replacing_members_with_an_unknown_one_answers_400_and_changes_nothing(
    client: httpx2.AsyncClient,
) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])
    before = await snapshot(client)

    response = await client.put(f"/Groups/{group['id']}", json=group_body("G", [UNKNOWN_ID]))

    body = assert_scim_error(response, 400, "invalidValue")
    assert UNKNOWN_ID in body["detail"]
    assert await snapshot(client) == before


async def test_a_member_without_a_value_is_refused(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "G")
    before = await snapshot(client)

    response = await client.patch(
        f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "members", "value": [{"display": "x"}]})
    )

    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before


async def test_a_deleted_user_cannot_be_added_as_a_member(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G")
    await client.delete(f"/Users/{alice}")
    before = await snapshot(client)

    response = await client.patch(
        f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "members", "value": [{"value": alice}]})
    )

    assert alice in assert_scim_error(response, 400, "invalidValue")["detail"]
    assert await snapshot(client) == before


# -- User.groups ----------------------------------------------------------------------------------


async def test_a_users_groups_lists_the_groups_it_belongs_to(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Tour Guides", [alice])

    user = await get_ok(client, f"/Users/{alice}")

    assert user["groups"] == [
        {"value": group["id"], "$ref": f"{SCIM}/Groups/{group['id']}", "type": "direct", "display": "Tour Guides"}
    ]


async def test_groups_sent_on_user_create_are_ignored(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "Tour Guides")

    created = await create_user(client, "alice", groups=[{"value": group["id"], "display": "Tour Guides"}])

    assert created.get("groups", []) == []
    assert await member_ids(client, group["id"]) == []


async def test_groups_sent_on_user_put_are_ignored(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "Tour Guides")

    response = await client.put(f"/Users/{alice}", json=user_body("alice", groups=[{"value": group["id"]}]))

    assert response.status_code == 200
    assert response.json().get("groups", []) == []
    assert await member_ids(client, group["id"]) == []


async def test_deleting_a_user_removes_it_from_its_groups(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice, bob])

    assert (await client.delete(f"/Users/{alice}")).status_code == 204

    assert await member_ids(client, group["id"]) == [bob]


async def test_deleting_a_group_removes_it_from_its_members_groups(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])

    assert (await client.delete(f"/Groups/{group['id']}")).status_code == 204

    assert (await get_ok(client, f"/Users/{alice}")).get("groups", []) == []
    assert_scim_error(await client.get(f"/Groups/{group['id']}"), 404)
    assert (await get_ok(client, f"/Users/{alice}"))["id"] == alice


# -- PUT and DELETE ------------------------------------------------------------------------------


async def test_put_replaces_the_members_as_a_set(client: httpx2.AsyncClient) -> None:
    alice, bob, carol = await _users(client, "alice", "bob", "carol")
    group = await create_group(client, "G", [alice, bob])

    response = await client.put(f"/Groups/{group['id']}", json=group_body("G2", [bob, carol, carol]))

    assert response.status_code == 200
    assert response.json()["displayName"] == "G2"
    assert sorted(m["value"] for m in response.json()["members"]) == sorted([bob, carol])
    assert await member_ids(client, group["id"]) == sorted([bob, carol])


async def test_put_without_members_clears_them(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])

    response = await client.put(f"/Groups/{group['id']}", json=group_body("G"))

    assert response.status_code == 200
    assert await member_ids(client, group["id"]) == []


async def test_an_unchanged_group_put_keeps_the_version(client: httpx2.AsyncClient) -> None:
    alice, bob = await _users(client, "alice", "bob")
    group = await create_group(client, "G", [alice, bob])

    response = await client.put(f"/Groups/{group['id']}", json=group)

    assert response.status_code == 200
    assert response.json()["meta"]["version"] == group["meta"]["version"]


async def test_deleting_a_group_answers_204_and_then_404(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "G")
    path = f"/Groups/{group['id']}"

    response = await client.delete(path)

    assert response.status_code == 204
    assert response.content == b""
    assert_scim_error(await client.get(path), 404)
    assert_scim_error(await client.put(path, json=group_body("G")), 404)
    assert_scim_error(await client.patch(path, json=patch_body({"op": "remove", "path": "members"})), 404)
    assert_scim_error(await client.delete(path), 404)


async def test_patching_member_sub_attributes_is_refused(client: httpx2.AsyncClient) -> None:
    (alice,) = await _users(client, "alice")
    group = await create_group(client, "G", [alice])
    before = await snapshot(client)

    response = await client.patch(
        f"/Groups/{group['id']}",
        json=patch_body({"op": "replace", "path": f'members[value eq "{alice}"].display', "value": "x"}),
    )

    assert_scim_error(response, 400, "invalidPath")
    assert await snapshot(client) == before
