"""RFC points independent checkers flagged, through the real app (issue 20)."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import fullwidth
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


# -- RFC 7644 §3.5.2.1 / §3.5.2.3: add and replace carry a value ------------------------------
@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": "nickName"},
        {"op": "replace", "path": "nickName"},
        {"op": "Replace", "path": "active"},
        {"op": "replace"},
    ],
)
async def test_add_or_replace_without_a_value_is_refused_and_changes_nothing(
    client: httpx2.AsyncClient, operation: dict[str, str]
) -> None:
    user = await create_user(client, "valueless", nickName="Before")
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "title", "value": "Boss"}, operation)
    )

    body = assert_scim_error(response, 400, "invalidValue")
    assert "Operations[1]" in body["detail"]
    assert "value" in body["detail"]
    assert await snapshot(client) == before


async def test_a_group_member_add_without_a_value_adds_nobody(client: httpx2.AsyncClient) -> None:
    group = await create_group(client, "valueless group")
    before = await snapshot(client)

    response = await client.patch(f"/Groups/{group['id']}", json=patch_body({"op": "add", "path": "members"}))

    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before


# -- RFC 7644 §3.4.2.2: `pr` needs a non-empty node ------------------------------------------
async def test_pr_on_a_complex_attribute_of_empty_strings_does_not_match(client: httpx2.AsyncClient) -> None:
    await create_user(client, "blank.name", name={"givenName": "", "familyName": ""}, emails=[{"value": ""}])
    await create_user(client, "real.name", name={"givenName": "Real", "familyName": ""}, emails=[{"value": "r@x"}])

    async def names(text: str) -> list[str]:
        body = await search(client, "/Users", text, sortBy="userName")
        return [u["userName"] for u in body["Resources"]]

    assert await names("name pr") == ["real.name"]
    assert await names("emails pr") == ["real.name"]
    assert await names("not (name pr)") == ["blank.name"]
    assert await names("name.givenName pr") == ["real.name"]


# -- RFC 7644 §3.9 / §3.4.2.3: one rule for unknown names in a query ------------------------------
@pytest.mark.parametrize("parameter", ["attributes", "excludedAttributes", "sortBy"])
async def test_an_unknown_name_in_a_query_parameter_is_400_invalid_value(
    client: httpx2.AsyncClient, parameter: str
) -> None:
    user = await create_user(client, "projected")

    for path in ("/Users", f"/Users/{user['id']}"):
        if parameter == "sortBy" and path != "/Users":
            continue
        response = await client.get(path, params={parameter: "userName,nickNmae"})

        body = assert_scim_error(response, 400, "invalidValue")
        assert f"{parameter} names an unknown attribute" in body["detail"]
        assert "nickNmae" in body["detail"] or "userName,nickNmae" in body["detail"]


async def test_a_write_naming_an_unknown_attribute_to_return_changes_nothing(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "projected.writer")
    before = await snapshot(client)

    created = await client.post("/Users?attributes=nope", json={"schemas": [USER], "userName": "never"})
    patched = await client.patch(
        f"/Users/{user['id']}?excludedAttributes=nope",
        json=patch_body({"op": "replace", "path": "title", "value": "Boss"}),
    )

    assert "nope" in assert_scim_error(created, 400, "invalidValue")["detail"]
    assert "nope" in assert_scim_error(patched, 400, "invalidValue")["detail"]
    assert await snapshot(client) == before


async def test_a_root_search_takes_names_of_any_resource_type(client: httpx2.AsyncClient) -> None:
    await create_user(client, "rooted")
    await create_group(client, "root group")
    request = {"schemas": [SEARCH_REQUEST], "attributes": ["userName", "displayName"], "sortBy": "userName"}

    found = await client.post("/.search", json=request)
    unknown = await client.post("/.search", json={**request, "attributes": ["userName", "nope"]})

    assert found.status_code == 200, found.text
    kept = sorted(sorted(set(r) - {"schemas", "id"}) for r in found.json()["Resources"])
    assert kept == [["displayName"], ["userName"]]
    assert "'nope'" in assert_scim_error(unknown, 400, "invalidValue")["detail"]


# -- RFC 7643 §3: `schemas` is a common attribute, and filters compare it -----------------------
async def test_a_filter_on_schemas_finds_the_resources_carrying_an_extension(client: httpx2.AsyncClient) -> None:
    await create_user(client, "core.only")
    await create_user(client, "with.extension", **{ENTERPRISE: {"employeeNumber": "7"}})
    await create_group(client, "a group")

    async def names(text: str, endpoint: str = "/Users") -> list[str]:
        body = await search(client, endpoint, text, sortBy="userName" if endpoint == "/Users" else "displayName")
        return [r.get("userName") or r["displayName"] for r in body["Resources"]]

    assert await names(f'schemas eq "{ENTERPRISE}"') == ["with.extension"]
    assert await names(f'SCHEMAS eq "{ENTERPRISE.upper()}"') == ["with.extension"]  # URIs: case-insensitive
    assert await names('schemas co "enterprise"') == ["with.extension"]
    assert await names('schemas sw "urn:ietf:params:scim:schemas:core:2.0:"') == ["core.only", "with.extension"]
    assert await names('schemas ew ":user"') == ["core.only", "with.extension"]
    assert await names("schemas pr") == ["core.only", "with.extension"]
    assert await names(f'not (schemas eq "{ENTERPRISE}")') == ["core.only"]
    assert await names(f'schemas ne "{USER}"') == ["with.extension"]  # some element differs
    assert await names(f'schemas eq "{GROUP}"', "/Groups") == ["a group"]
    assert await names(f'schemas eq "{GROUP}"') == []


async def test_a_root_search_on_schemas_spans_the_resource_types(client: httpx2.AsyncClient) -> None:
    await create_user(client, "root.user")
    await create_group(client, "root group")
    request = {"schemas": [SEARCH_REQUEST], "filter": 'schemas sw "urn:ietf:params:scim:schemas:core:2.0:"'}

    response = await client.post("/.search", json=request)

    assert response.status_code == 200, response.text
    assert sorted(r["schemas"][0] for r in response.json()["Resources"]) == [GROUP, USER]


# -- RFC 8265 §3.3.1 (PRECIS, after RFC 7613): width mapping in case-ignoring comparisons ----------
async def test_a_fullwidth_user_name_is_the_same_user_name(client: httpx2.AsyncClient) -> None:
    wide = await create_user(client, fullwidth("WIDE"))
    before = await snapshot(client)

    conflict = await client.post("/Users", json={"schemas": [USER], "userName": "wide"})

    assert "userName" in assert_scim_error(conflict, 409, "uniqueness")["detail"]
    assert await snapshot(client) == before
    found = await search(client, "/Users", 'userName eq "wide"')
    assert [u["id"] for u in found["Resources"]] == [wide["id"]]


async def test_a_rename_onto_a_fullwidth_twin_is_a_conflict(client: httpx2.AsyncClient) -> None:
    await create_user(client, fullwidth("babs"))
    other = await create_user(client, "other")
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{other['id']}", json=patch_body({"op": "replace", "path": "userName", "value": "BABS"})
    )

    assert_scim_error(response, 409, "uniqueness")
    assert await snapshot(client) == before


async def test_member_display_filters_map_width_too(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "member", displayName=fullwidth("Wide Member"))
    group = await create_group(client, "wide group", [user["id"]])
    await create_group(client, "empty group")

    found = await search(client, "/Groups", 'members.display eq "wide member"')

    assert [g["id"] for g in found["Resources"]] == [group["id"]]
