"""Tenant isolation: globex's token never reaches acme's data, on any route, with real ids.

A foreign id must look exactly like an id that never existed (404, never 403), lists and
filters must come back empty, and acme's data must be unchanged afterwards.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body
from tests.http.scim_checks import member_ids
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


@pytest.fixture
async def acme_data(acme: TenantAccess) -> dict[str, Any]:
    """A user, a second user, a group holding both, and a group nested in it; plus a snapshot."""
    user = await create_user(
        acme.client,
        "bjensen@acme.example",
        externalId="acme-ext-1",
        displayName="Babs Jensen",
        emails=[{"value": "bjensen@acme.example", "type": "work"}],
        schemas=[USER, ENTERPRISE],
        **{ENTERPRISE: {"employeeNumber": "701984"}},
    )
    other = await create_user(acme.client, "kjensen@acme.example")
    inner = await create_group(acme.client, "Inner Circle")
    group = await create_group(acme.client, "Tour Guides", [user["id"], other["id"], inner["id"]], externalId="g-1")
    return {
        "user": user,
        "other": other,
        "group": group,
        "inner": inner,
        "before": await snapshot(acme.client),
    }


async def _assert_acme_unchanged(acme: TenantAccess, data: dict[str, Any]) -> None:
    assert await snapshot(acme.client) == data["before"]
    assert await member_ids(acme.client, data["group"]["id"]) == sorted(
        [data["user"]["id"], data["other"]["id"], data["inner"]["id"]]
    )


def _same_as_unknown(foreign: dict[str, Any], unknown: dict[str, Any], foreign_id: str) -> None:
    """The answer for a foreign id is the answer for an id that never existed."""
    assert foreign == {**unknown, "detail": unknown["detail"].replace(UNKNOWN_ID, foreign_id)}


ROUTES = [
    ("GET", "/Users/{user}", None),
    ("PUT", "/Users/{user}", user_body("bjensen@acme.example", displayName="Hijacked")),
    ("PATCH", "/Users/{user}", patch_body({"op": "replace", "value": {"active": False}})),
    ("DELETE", "/Users/{user}", None),
    ("GET", "/Groups/{group}", None),
    ("PUT", "/Groups/{group}", group_body("Hijacked", [])),
    ("PATCH", "/Groups/{group}", patch_body({"op": "remove", "path": "members"})),
    ("DELETE", "/Groups/{group}", None),
    ("GET", "/Users/{group}", None),
    ("DELETE", "/Groups/{inner}", None),
]


@pytest.mark.parametrize(("method", "template", "body"), ROUTES)
async def test_a_foreign_id_answers_404_exactly_like_an_unknown_id(
    acme: TenantAccess,
    globex: TenantAccess,
    acme_data: dict[str, Any],
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    ids = {name: acme_data[name]["id"] for name in ("user", "group", "inner")}
    foreign_id = template.split("/")[-1].format(**ids)
    path = template.format(**ids)

    foreign = await globex.client.request(method, path, json=body)
    unknown = await globex.client.request(method, path.replace(foreign_id, UNKNOWN_ID), json=body)

    assert_scim_error(foreign, 404)
    _same_as_unknown(foreign.json(), assert_scim_error(unknown, 404), foreign_id)
    await _assert_acme_unchanged(acme, acme_data)


async def test_listing_shows_none_of_the_other_tenants_resources(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    users = await get_ok(globex.client, "/Users", params={"count": "1000"})
    groups = await get_ok(globex.client, "/Groups", params={"count": "1000", "startIndex": "1"})

    assert assert_list_response(users, total=0) == []
    assert assert_list_response(groups, total=0) == []


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [
        ("/Users", 'userName eq "bjensen@acme.example"'),
        ("/Users", 'userName eq "BJENSEN@ACME.EXAMPLE"'),
        ("/Users", 'externalId eq "acme-ext-1"'),
        ("/Users", 'displayName eq "Babs Jensen"'),
        ("/Users", 'emails.value eq "bjensen@acme.example"'),
        ("/Users", 'emails[type eq "work"].value eq "bjensen@acme.example"'),
        ("/Users", 'id eq "{user}"'),
        ("/Users", f'{ENTERPRISE}:employeeNumber eq "701984"'),
        ("/Users", 'userName co "acme"'),
        ("/Users", "userName pr"),
        ("/Groups", 'displayName eq "Tour Guides"'),
        ("/Groups", 'externalId eq "g-1"'),
        ("/Groups", 'id eq "{group}"'),
        ("/Groups", "displayName pr"),
    ],
)
async def test_filters_never_match_the_other_tenants_resources(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any], endpoint: str, text: str
) -> None:
    text = text.format(user=acme_data["user"]["id"], group=acme_data["group"]["id"])

    mine = await search(acme.client, endpoint, text)
    theirs = await globex.client.get(endpoint, params={"filter": text})

    assert mine["totalResults"] >= 1
    if theirs.status_code == 200:
        assert assert_list_response(theirs.json(), total=0) == []
    else:
        assert_scim_error(theirs, 400, "invalidFilter")
        assert_scim_error(await acme.client.get(endpoint, params={"filter": text}), 400, "invalidFilter")


async def test_post_search_shows_none_of_the_other_tenants_resources(
    globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    query = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "bjensen@acme.example"',
    }

    by_type = await globex.client.post("/Users/.search", json=query)
    at_root = await globex.client.post("/.search", json={**query, "filter": "id pr"})

    assert by_type.status_code == 200, by_type.text
    assert by_type.json()["totalResults"] == 0
    assert at_root.status_code == 200, at_root.text
    assert at_root.json()["totalResults"] == 0


async def test_a_cursor_of_one_tenant_is_useless_to_another(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    first = await get_ok(acme.client, "/Users", params={"cursor": "", "count": "1"})
    cursor = first["nextCursor"]

    response = await globex.client.get("/Users", params={"cursor": cursor, "count": "1"})

    assert_scim_error(response, 400, "invalidCursor")
    for resource in ("user", "other"):
        assert acme_data[resource]["id"] not in response.text


async def test_a_foreign_user_cannot_be_added_to_a_group_on_create(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    foreign_id = acme_data["user"]["id"]

    foreign = await globex.client.post("/Groups", json=group_body("Mine", [foreign_id]))
    unknown = await globex.client.post("/Groups", json=group_body("Mine", [UNKNOWN_ID]))

    assert_scim_error(foreign, 400, "invalidValue")
    _same_as_unknown(foreign.json(), assert_scim_error(unknown, 400, "invalidValue"), foreign_id)
    assert (await get_ok(globex.client, "/Groups"))["totalResults"] == 0
    await _assert_acme_unchanged(acme, acme_data)


@pytest.mark.parametrize("resource", ["user", "group"])
async def test_a_foreign_resource_cannot_be_added_to_a_group_by_patch_or_put(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any], resource: str
) -> None:
    foreign_id = acme_data[resource]["id"]
    mine = await create_group(globex.client, "Mine")
    before = await snapshot(globex.client)

    by_patch = await globex.client.patch(
        f"/Groups/{mine['id']}",
        json=patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": foreign_id}]}),
    )
    by_replace = await globex.client.patch(
        f"/Groups/{mine['id']}",
        json=patch_body({"op": "replace", "path": "members", "value": [{"value": foreign_id}]}),
    )
    by_put = await globex.client.put(f"/Groups/{mine['id']}", json=group_body("Mine", [foreign_id]))

    for response in (by_patch, by_replace, by_put):
        assert foreign_id in assert_scim_error(response, 400, "invalidValue")["detail"]
    assert await snapshot(globex.client) == before
    await _assert_acme_unchanged(acme, acme_data)


async def test_removing_a_foreign_member_from_an_own_group_touches_nothing_of_the_other_tenant(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    mine = await create_group(globex.client, "Mine")
    foreign_id = acme_data["user"]["id"]

    response = await globex.client.patch(
        f"/Groups/{mine['id']}",
        json=patch_body(
            {"op": "remove", "path": f'members[value eq "{foreign_id}"]'},
            {"op": "remove", "path": "members", "value": [{"value": foreign_id}]},
        ),
    )

    assert response.status_code == 204  # a Group PATCH without attributes (RFC 7644 §3.5.2)
    await _assert_acme_unchanged(acme, acme_data)


async def test_the_same_user_name_may_exist_in_both_tenants(
    acme: TenantAccess, globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    theirs = await create_user(globex.client, "BJensen@acme.example", externalId="acme-ext-1")
    group = await create_group(globex.client, "Tour Guides", [theirs["id"]])

    found = await search(globex.client, "/Users", 'userName eq "bjensen@acme.example"')
    groups = await search(globex.client, "/Groups", 'displayName eq "Tour Guides"')

    assert theirs["id"] != acme_data["user"]["id"]
    assert [r["id"] for r in found["Resources"]] == [theirs["id"]]
    assert [r["id"] for r in groups["Resources"]] == [group["id"]]
    assert (await search(acme.client, "/Users", 'userName eq "bjensen@acme.example"'))["Resources"] == [
        (await get_ok(acme.client, f"/Users/{acme_data['user']['id']}"))
    ]
    await _assert_acme_unchanged(acme, acme_data)


async def test_a_user_name_taken_in_one_tenant_is_still_unique_within_the_other(
    globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    await create_user(globex.client, "bjensen@acme.example")

    response = await globex.client.post("/Users", json=user_body("BJENSEN@acme.example"))

    assert_scim_error(response, 409, "uniqueness")


async def test_a_users_groups_never_show_the_other_tenants_groups(
    globex: TenantAccess, acme_data: dict[str, Any]
) -> None:
    theirs = await create_user(globex.client, "bjensen@acme.example")

    fetched = await get_ok(globex.client, f"/Users/{theirs['id']}")

    assert fetched.get("groups", []) == []
