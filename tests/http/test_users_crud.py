"""Users: create, read, list, replace, patch and delete (RFC 7644 §3.3-§3.6, §3.14)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import SCIM
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import assert_scim_media_type
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body
from tests.http.scim_checks import without_meta

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


def _instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


BABS: dict[str, Any] = {
    "externalId": "701984",
    "name": {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"},
    "displayName": "Babs Jensen",
    "nickName": "Babs",
    "title": "Tour Guide",
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "active": True,
}


async def _babs(client: httpx2.AsyncClient) -> dict[str, Any]:
    return await create_user(client, "bjensen@example.com", **BABS)


# -- POST ---------------------------------------------------------------------------------


async def test_creating_a_user_answers_201_with_the_created_user(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Users", json=user_body("bjensen@example.com", **BABS))

    assert response.status_code == 201
    assert_scim_media_type(response)
    created = response.json()
    assert isinstance(created["id"], str)
    assert created["id"]
    assert created["schemas"] == [USER]
    assert created["userName"] == "bjensen@example.com"
    for key, value in BABS.items():
        assert created[key] == value


async def test_the_location_header_equals_meta_location(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Users", json=user_body("bjensen"))

    created = response.json()
    assert response.headers["Location"] == created["meta"]["location"]
    assert created["meta"]["location"] == f"{SCIM}/Users/{created['id']}"


async def test_the_etag_header_equals_meta_version(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Users", json=user_body("bjensen"))

    assert response.headers["ETag"] == response.json()["meta"]["version"]


async def test_meta_holds_resource_type_created_last_modified_location_and_version(
    client: httpx2.AsyncClient,
) -> None:
    before = datetime.now().astimezone()
    meta = (await create_user(client, "bjensen"))["meta"]

    assert meta["resourceType"] == "User"
    assert meta["created"] == meta["lastModified"]
    assert abs((_instant(meta["created"]) - before).total_seconds()) < 60
    assert meta["location"].startswith(f"{SCIM}/Users/")
    assert meta["version"].startswith('W/"')


async def test_the_server_assigns_id_and_meta_whatever_the_client_sends(client: httpx2.AsyncClient) -> None:
    body = user_body(
        "bjensen",
        id="client-chosen-id",
        meta={"resourceType": "Group", "created": "2010-01-23T04:56:22Z", "version": 'W/"x"'},
    )
    created = (await client.post("/Users", json=body)).json()

    assert created["id"] != "client-chosen-id"
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["created"] != "2010-01-23T04:56:22Z"
    assert created["meta"]["version"] != 'W/"x"'


async def test_the_password_is_accepted_but_never_returned(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen", password="t1meMa$heen")

    fetched = await get_ok(client, f"/Users/{created['id']}")
    listed = await get_ok(client, "/Users")
    asked_for = await get_ok(client, f"/Users/{created['id']}", params={"attributes": "password"})
    for doc in (created, fetched, listed["Resources"][0], asked_for):
        assert "password" not in doc
    assert "t1meMa$heen" not in (await client.get("/Users")).text


async def test_an_extension_user_lists_the_extension_schema(client: httpx2.AsyncClient) -> None:
    created = await create_user(
        client, "bjensen", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"employeeNumber": "701984"}}
    )

    assert created["schemas"] == [USER, ENTERPRISE]
    assert created[ENTERPRISE] == {"employeeNumber": "701984"}


async def test_null_values_on_create_are_unassigned_attributes(client: httpx2.AsyncClient) -> None:
    # Entra's tutorial create sends explicit nulls (IDP_QUIRKS 2.4; RFC 7643 §2.5).
    created = await create_user(
        client, "bjensen", addresses=None, phoneNumbers=None, preferredLanguage=None, title=None, active=True
    )

    for unassigned in ("addresses", "phoneNumbers", "preferredLanguage", "title"):
        assert unassigned not in created
    assert created["active"] is True


async def test_a_read_only_sub_attribute_sent_by_the_client_is_ignored(client: httpx2.AsyncClient) -> None:
    manager = {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}

    created = await create_user(client, "bjensen", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"manager": manager}})

    # RFC 7643 §4.3 manager.displayName is readOnly; RFC 7644 §3.3: readOnly input is ignored.
    assert created[ENTERPRISE] == {"manager": {"value": manager["value"]}}


# -- GET by id --------------------------------------------------------------------------------


async def test_getting_a_user_by_id_returns_what_the_create_returned(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.get(f"/Users/{created['id']}")

    assert response.status_code == 200
    assert_scim_media_type(response)
    assert response.json() == created
    assert response.headers["ETag"] == created["meta"]["version"]


async def test_attributes_and_excluded_attributes_shape_the_representation(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    path = f"/Users/{created['id']}"

    only = await get_ok(client, path, params={"attributes": "userName,name.givenName"})
    without = await get_ok(client, path, params={"excludedAttributes": "emails,name"})
    listed = await get_ok(client, "/Users", params={"attributes": "userName"})

    assert only == {
        "schemas": [USER],
        "id": created["id"],
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara"},
    }
    assert without == {k: v for k, v in created.items() if k not in ("emails", "name")}
    assert listed["Resources"] == [{"schemas": [USER], "id": created["id"], "userName": "bjensen@example.com"}]


async def test_getting_an_unknown_user_answers_404(client: httpx2.AsyncClient) -> None:
    assert_scim_error(await client.get(f"/Users/{UNKNOWN_ID}"), 404)


async def test_a_get_with_the_current_etag_in_if_none_match_answers_304(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    response = await client.get(f"/Users/{created['id']}", headers={"If-None-Match": created["meta"]["version"]})

    assert response.status_code == 304
    assert response.content == b""


# -- list and pagination ------------------------------------------------------------------------


async def _seed(client: httpx2.AsyncClient, n: int) -> list[str]:
    return [(await create_user(client, f"user{i:02d}"))["id"] for i in range(n)]


async def test_listing_users_returns_every_user_in_a_list_response(client: httpx2.AsyncClient) -> None:
    ids = await _seed(client, 5)

    resources = assert_list_response(await get_ok(client, "/Users"), total=5)

    assert [r["id"] for r in resources] == ids


async def test_an_empty_tenant_lists_zero_users_and_an_empty_resources_array(
    client: httpx2.AsyncClient,
) -> None:
    assert assert_list_response(await get_ok(client, "/Users"), total=0) == []


async def test_pages_are_stable_and_cover_every_user_exactly_once(client: httpx2.AsyncClient) -> None:
    ids = await _seed(client, 7)

    seen: list[str] = []
    for start in (1, 4, 7):
        page = await get_ok(client, "/Users", params={"startIndex": start, "count": 3})
        seen += [r["id"] for r in assert_list_response(page, total=7, start_index=start)]
    again = await get_ok(client, "/Users", params={"startIndex": 4, "count": 3})

    assert seen == ids
    assert [r["id"] for r in again["Resources"]] == ids[3:6]


async def test_a_page_reports_its_own_size_in_items_per_page(client: httpx2.AsyncClient) -> None:
    await _seed(client, 5)

    page = await get_ok(client, "/Users", params={"startIndex": 1, "count": 2})

    assert len(assert_list_response(page, total=5)) == 2


async def test_the_last_page_may_be_short(client: httpx2.AsyncClient) -> None:
    ids = await _seed(client, 5)

    page = await get_ok(client, "/Users", params={"startIndex": 4, "count": 10})

    assert [r["id"] for r in assert_list_response(page, total=5, start_index=4)] == ids[3:]


async def test_a_start_index_past_the_end_returns_no_resources_but_the_total(
    client: httpx2.AsyncClient,
) -> None:
    await _seed(client, 3)

    page = await get_ok(client, "/Users", params={"startIndex": 10, "count": 5})

    assert assert_list_response(page, total=3, start_index=10) == []


@pytest.mark.parametrize("start_index", ["0", "-5"])
async def test_a_start_index_below_one_is_treated_as_one(client: httpx2.AsyncClient, start_index: str) -> None:
    ids = await _seed(client, 3)

    page = await get_ok(client, "/Users", params={"startIndex": start_index, "count": 2})

    assert [r["id"] for r in assert_list_response(page, total=3, start_index=1)] == ids[:2]


@pytest.mark.parametrize("count", ["0", "-1"])
async def test_a_count_of_zero_or_less_returns_only_the_total(client: httpx2.AsyncClient, count: str) -> None:
    await _seed(client, 3)

    page = await get_ok(client, "/Users", params={"count": count})

    assert assert_list_response(page, total=3) == []


async def test_a_huge_count_is_capped_not_refused(client: httpx2.AsyncClient, settings: Settings) -> None:
    await _seed(client, 3)

    page = await get_ok(client, "/Users", params={"count": str(settings.max_results * 100)})

    assert settings.max_results == 1000
    assert len(assert_list_response(page, total=3)) == 3


async def test_count_is_capped_at_max_results(acme: TenantAccess, settings: Settings, store: SqlStore) -> None:
    ids = await _seed(acme.client, 5)

    async with client_for(app_with(settings, store, max_results=2), acme.token) as capped:
        page = await get_ok(capped, "/Users", params={"count": "50"})
        spc = await get_ok(capped, "/ServiceProviderConfig")

    assert [r["id"] for r in assert_list_response(page, total=5)] == ids[:2]
    assert spc["filter"]["maxResults"] == 2


async def test_a_non_numeric_count_is_refused_with_400(client: httpx2.AsyncClient) -> None:
    assert_scim_error(await client.get("/Users", params={"count": "ten"}), 400, "invalidValue")


# -- PUT ----------------------------------------------------------------------------------------


async def test_put_replaces_the_user_and_clears_omitted_attributes(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.put(
        f"/Users/{created['id']}",
        json=user_body("bjensen@example.com", name={"givenName": "Barbara"}, active=False),
    )

    assert response.status_code == 200
    replaced = response.json()
    for gone in ("externalId", "displayName", "nickName", "title", "emails"):
        assert gone not in replaced
    assert replaced["name"] == {"givenName": "Barbara"}
    assert replaced["active"] is False
    assert await get_ok(client, f"/Users/{created['id']}") == replaced


async def test_put_returns_a_new_version_in_etag_and_meta(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.put(f"/Users/{created['id']}", json=user_body("bjensen@example.com"))

    meta = response.json()["meta"]
    assert meta["version"] != created["meta"]["version"]
    assert response.headers["ETag"] == meta["version"]
    assert meta["created"] == created["meta"]["created"]
    assert _instant(meta["lastModified"]) >= _instant(created["meta"]["lastModified"])


async def test_put_ignores_read_only_id_and_meta_in_the_body(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    body = {
        **without_meta(created),
        "id": "someone-else",
        "nickName": "Barbie",
        # Okta's legacy PUT echoes meta with non-ISO dates (IDP_QUIRKS 1.5).
        "meta": {"resourceType": "Group", "created": "04-12-2018 00:00:00", "version": 'W/"1234"'},
    }

    response = await client.put(f"/Users/{created['id']}", json=body)

    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == created["id"]
    assert replaced["nickName"] == "Barbie"
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["resourceType"] == "User"


async def test_an_unchanged_put_keeps_version_and_last_modified(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.put(f"/Users/{created['id']}", json=created)

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == created["meta"]["version"]


async def test_put_never_returns_the_password(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    response = await client.put(f"/Users/{created['id']}", json=user_body("bjensen", password="s3cret!"))

    assert "password" not in response.json()
    assert "s3cret!" not in response.text


async def test_put_on_an_unknown_user_answers_404_and_creates_nothing(client: httpx2.AsyncClient) -> None:
    before = await snapshot(client)

    assert_scim_error(await client.put(f"/Users/{UNKNOWN_ID}", json=user_body("ghost")), 404)

    assert await snapshot(client) == before


async def test_put_without_user_name_answers_400_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    before = await snapshot(client)

    response = await client.put(f"/Users/{created['id']}", json={"schemas": [USER], "nickName": "x"})

    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before


async def test_put_to_another_users_user_name_answers_409_and_changes_nothing(
    client: httpx2.AsyncClient,
) -> None:
    await create_user(client, "alice")
    bob = await create_user(client, "bob")
    before = await snapshot(client)

    assert_scim_error(await client.put(f"/Users/{bob['id']}", json=user_body("ALICE")), 409, "uniqueness")

    assert await snapshot(client) == before


async def test_put_with_a_stale_if_match_answers_412_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")
    await patch_ok(client, f"/Users/{created['id']}", {"op": "add", "path": "nickName", "value": "B"})
    before = await snapshot(client)

    response = await client.put(
        f"/Users/{created['id']}",
        json=user_body("bjensen", title="x"),
        headers={"If-Match": created["meta"]["version"]},
    )

    assert_scim_error(response, 412)
    assert await snapshot(client) == before


async def test_put_with_the_current_if_match_succeeds(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    response = await client.put(
        f"/Users/{created['id']}",
        json=user_body("bjensen", title="x"),
        headers={"If-Match": created["meta"]["version"]},
    )

    assert response.status_code == 200
    assert response.json()["title"] == "x"


# -- PATCH: activation ----------------------------------------------------------------------------


async def test_patch_replace_active_false_by_path_deactivates(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "replace", "path": "active", "value": False})

    assert patched["active"] is False
    assert patched["meta"]["version"] != created["meta"]["version"]
    assert await get_ok(client, f"/Users/{created['id']}") == patched


async def test_patch_in_entra_form_with_string_booleans_deactivates_and_reactivates(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)
    path = f"/Users/{created['id']}"

    off = await patch_ok(client, path, {"op": "Replace", "path": "active", "value": "False"})
    on = await patch_ok(client, path, {"op": "Replace", "path": "active", "value": "True"})

    assert off["active"] is False
    assert on["active"] is True


async def test_patch_in_okta_form_without_path_deactivates_and_reactivates(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)
    path = f"/Users/{created['id']}"

    off = await patch_ok(client, path, {"op": "replace", "value": {"active": False}})
    fetched = await get_ok(client, path)
    on = await patch_ok(client, path, {"op": "replace", "value": {"active": True}})

    assert off["active"] is False
    assert fetched["active"] is False
    assert on["active"] is True


async def test_a_deactivated_user_can_still_be_read_listed_and_filtered(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    await patch_ok(client, f"/Users/{created['id']}", {"op": "replace", "value": {"active": False}})

    fetched = await get_ok(client, f"/Users/{created['id']}")
    listed = await get_ok(client, "/Users")
    found = await search(client, "/Users", 'userName eq "bjensen@example.com"')

    assert fetched["active"] is False
    assert [r["id"] for r in listed["Resources"]] == [created["id"]]
    assert [r["active"] for r in assert_list_response(found, total=1)] == [False]


# -- PATCH: simple and complex attributes ------------------------------------------------------------


async def test_patch_add_with_a_path_sets_a_simple_attribute(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "Add", "path": "nickName", "value": "Babs"})

    assert patched["nickName"] == "Babs"


async def test_patch_add_without_a_path_sets_every_attribute_of_the_value(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "add", "value": {"nickName": "Babs", "title": "Tour Guide"}}
    )

    assert (patched["nickName"], patched["title"]) == ("Babs", "Tour Guide")


async def test_patch_replace_of_a_simple_attribute_changes_only_it(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "replace", "path": "displayName", "value": "Barbara"}
    )

    assert without_meta(patched) == {**without_meta(created), "displayName": "Barbara"}


async def test_patch_replace_of_name_given_name_keeps_the_other_name_parts(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "Replace", "path": "name.givenName", "value": "Babs"}
    )

    assert patched["name"] == {**BABS["name"], "givenName": "Babs"}


async def test_patch_replace_of_a_complex_attribute_merges_its_sub_attributes(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)
    path = f"/Users/{created['id']}"

    by_path = await patch_ok(client, path, {"op": "replace", "path": "name", "value": {"givenName": "B"}})
    pathless = await patch_ok(client, path, {"op": "replace", "value": {"name": {"familyName": "J"}}})

    assert by_path["name"] == {**BABS["name"], "givenName": "B"}
    assert pathless["name"] == {**BABS["name"], "givenName": "B", "familyName": "J"}


async def test_patch_add_to_a_complex_attribute_that_is_absent_creates_it(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "add", "path": "name.familyName", "value": "Jensen"}
    )

    assert patched["name"] == {"familyName": "Jensen"}


async def test_patch_add_of_emails_appends_to_the_existing_ones(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    new = {"value": "b@other.example", "type": "other"}

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "add", "path": "emails", "value": [new]})

    assert patched["emails"] == [*BABS["emails"], new]


async def test_patch_add_of_an_email_that_is_already_there_adds_no_duplicate(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "add", "path": "emails", "value": [BABS["emails"][1]]}
    )

    assert patched["emails"] == BABS["emails"]


async def test_patch_replace_of_emails_replaces_the_whole_list(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    new = [{"value": "only@example.com", "type": "work", "primary": True}]

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "replace", "path": "emails", "value": new})

    assert patched["emails"] == new


async def test_patch_replace_of_the_work_email_value_changes_only_that_email(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client,
        f"/Users/{created['id']}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "barbara@example.com"},
    )

    assert patched["emails"] == [
        {"value": "barbara@example.com", "type": "work", "primary": True},
        BABS["emails"][1],
    ]
    found = await search(client, "/Users", 'emails.value eq "barbara@example.com"')
    assert [r["id"] for r in found["Resources"]] == [created["id"]]


async def test_patch_of_a_typed_email_that_does_not_exist_yet_creates_it(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(
        client,
        f"/Users/{created['id']}",
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "b@example.com"},
    )

    assert patched["emails"] == [{"type": "work", "value": "b@example.com"}]


async def test_patch_remove_with_a_value_filter_removes_only_matching_elements(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "remove", "path": 'emails[type eq "home"]'})

    assert patched["emails"] == [BABS["emails"][0]]


async def test_patch_remove_of_a_simple_attribute_clears_it(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "Remove", "path": "nickName"})

    assert without_meta(patched) == {k: v for k, v in without_meta(created).items() if k != "nickName"}


async def test_patch_remove_of_a_sub_attribute_keeps_its_siblings(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "remove", "path": "name.middleName"})

    assert patched["name"] == {"givenName": "Barbara", "familyName": "Jensen"}


async def test_patch_remove_of_a_multi_valued_attribute_clears_all_values(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "remove", "path": "emails"})

    assert "emails" not in patched
    found = await search(client, "/Users", 'emails.value eq "bjensen@example.com"')
    assert found["totalResults"] == 0


async def test_patch_remove_of_an_absent_attribute_is_a_no_op(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(client, f"/Users/{created['id']}", {"op": "remove", "path": "title"})

    assert patched == created


async def test_patch_applies_several_operations_in_order(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client,
        f"/Users/{created['id']}",
        {"op": "replace", "path": "displayName", "value": "First"},
        {"op": "replace", "path": "displayName", "value": "Second"},
        {"op": "remove", "path": "title"},
    )

    assert patched["displayName"] == "Second"
    assert "title" not in patched


# -- PATCH: enterprise extension --------------------------------------------------------------------


async def test_patch_of_an_enterprise_attribute_by_urn_path_adds_the_extension(
    client: httpx2.AsyncClient,
) -> None:
    created = await create_user(client, "bjensen")

    patched = await patch_ok(
        client,
        f"/Users/{created['id']}",
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
    )

    assert patched[ENTERPRISE] == {"employeeNumber": "701984"}
    assert patched["schemas"] == [USER, ENTERPRISE]


async def test_patch_in_entra_batched_form_with_dotted_and_urn_keys(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    patched = await patch_ok(
        client,
        f"/Users/{created['id']}",
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
            },
        },
    )

    assert patched["displayName"] == "Bjfe"
    assert patched["name"] == {"givenName": "Kkom", "familyName": "Unua", "middleName": "Jane"}
    assert patched[ENTERPRISE] == {"employeeNumber": "Aklq"}


async def test_the_manager_can_be_set_changed_and_cleared_as_a_bare_id_string(
    client: httpx2.AsyncClient,
) -> None:
    boss = await create_user(client, "boss")
    other = await create_user(client, "other-boss")
    created = await create_user(client, "bjensen")
    path, manager = f"/Users/{created['id']}", f"{ENTERPRISE}:manager"

    added = await patch_ok(client, path, {"op": "Add", "path": manager, "value": boss["id"]})
    changed = await patch_ok(client, path, {"op": "replace", "path": manager, "value": other["id"]})
    cleared = await patch_ok(client, path, {"op": "replace", "path": manager, "value": ""})

    assert added[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert changed[ENTERPRISE]["manager"]["value"] == other["id"]
    assert ENTERPRISE not in cleared
    assert cleared["schemas"] == [USER]


async def test_patch_remove_of_an_enterprise_attribute_drops_the_empty_extension(
    client: httpx2.AsyncClient,
) -> None:
    created = await create_user(client, "bjensen", schemas=[USER, ENTERPRISE], **{ENTERPRISE: {"employeeNumber": "1"}})

    patched = await patch_ok(
        client, f"/Users/{created['id']}", {"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"}
    )

    assert ENTERPRISE not in patched
    assert patched["schemas"] == [USER]


# -- PATCH: versions and errors ------------------------------------------------------------------


async def test_an_unchanged_patch_keeps_version_and_last_modified(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.patch(
        f"/Users/{created['id']}",
        json=patch_body(
            {"op": "replace", "path": "active", "value": True},
            {"op": "replace", "value": {"nickName": "Babs"}},
        ),
    )

    assert response.status_code == 200
    assert response.json() == created
    assert response.headers["ETag"] == created["meta"]["version"]


async def test_a_patch_that_changes_something_bumps_the_version(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.patch(
        f"/Users/{created['id']}", json=patch_body({"op": "replace", "path": "title", "value": "Boss"})
    )

    assert response.json()["meta"]["version"] != created["meta"]["version"]
    assert response.headers["ETag"] == response.json()["meta"]["version"]
    assert response.json()["meta"]["created"] == created["meta"]["created"]


@pytest.mark.parametrize(
    ("operation", "scim_type"),
    [
        ({"op": "replace", "path": "noSuchAttribute", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "name.noSuchPart", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": "emails[type eq ", "value": "x"}, "invalidPath"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "path": "id", "value": "mine"}, "mutability"),
        ({"op": "add", "path": "groups", "value": [{"value": UNKNOWN_ID}]}, "mutability"),
        ({"op": "replace", "path": "active", "value": "maybe"}, "invalidValue"),
        ({"op": "replace", "path": "userName", "value": 5}, "invalidValue"),
        ({"op": "replace", "path": "emails", "value": "not-a-list"}, "invalidValue"),
        ({"op": "explode", "path": "title", "value": "x"}, "invalidValue"),
        ({"op": "replace", "value": "not-an-object"}, "invalidValue"),
    ],
)
async def test_an_invalid_patch_operation_answers_400_and_changes_nothing(
    client: httpx2.AsyncClient, operation: dict[str, Any], scim_type: str
) -> None:
    created = await _babs(client)
    before = await snapshot(client)

    response = await client.patch(f"/Users/{created['id']}", json=patch_body(operation))

    assert_scim_error(response, 400, scim_type)
    assert await snapshot(client) == before


@pytest.mark.parametrize(
    "body",
    [
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Nope"], "Operations": [{"op": "remove", "path": "x"}]},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
        {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []},
    ],
)
async def test_a_malformed_patch_request_answers_400_and_changes_nothing(
    client: httpx2.AsyncClient, body: dict[str, Any]
) -> None:
    created = await _babs(client)
    before = await snapshot(client)

    assert_scim_error(await client.patch(f"/Users/{created['id']}", json=body), 400, "invalidValue")

    assert await snapshot(client) == before


async def test_a_patch_is_all_or_nothing(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{created['id']}",
        json=patch_body(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "noSuchAttribute", "value": "x"},
        ),
    )

    assert_scim_error(response, 400, "invalidPath")
    assert await snapshot(client) == before


async def test_a_patch_removing_the_user_name_answers_400_and_changes_nothing(
    client: httpx2.AsyncClient,
) -> None:
    created = await _babs(client)
    before = await snapshot(client)

    response = await client.patch(f"/Users/{created['id']}", json=patch_body({"op": "remove", "path": "userName"}))

    # Table 9 mutability: "not compatible with the target attribute's mutability or current state".
    assert_scim_error(response, 400, "mutability")
    assert await snapshot(client) == before


async def test_a_patch_to_a_taken_user_name_answers_409_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    await create_user(client, "alice")
    bob = await create_user(client, "bob")
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{bob['id']}", json=patch_body({"op": "replace", "path": "userName", "value": "Alice"})
    )

    assert_scim_error(response, 409, "uniqueness")
    assert await snapshot(client) == before


async def test_a_patch_with_a_stale_if_match_answers_412_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")
    await patch_ok(client, f"/Users/{created['id']}", {"op": "add", "path": "nickName", "value": "B"})
    before = await snapshot(client)

    response = await client.patch(
        f"/Users/{created['id']}",
        json=patch_body({"op": "replace", "path": "title", "value": "x"}),
        headers={"If-Match": created["meta"]["version"]},
    )

    assert_scim_error(response, 412)
    assert await snapshot(client) == before


# -- DELETE ---------------------------------------------------------------------------------------


async def test_delete_answers_204_with_no_body(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)

    response = await client.delete(f"/Users/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""


async def test_a_deleted_user_is_gone_for_every_method(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    path = f"/Users/{created['id']}"
    await client.delete(path)

    assert_scim_error(await client.get(path), 404)
    assert_scim_error(await client.put(path, json=user_body("bjensen@example.com")), 404)
    assert_scim_error(await client.patch(path, json=patch_body({"op": "add", "path": "title", "value": "x"})), 404)
    assert_scim_error(await client.delete(path), 404)
    assert assert_list_response(await get_ok(client, "/Users"), total=0) == []


async def test_a_deleted_users_user_name_can_be_used_again(client: httpx2.AsyncClient) -> None:
    created = await _babs(client)
    await client.delete(f"/Users/{created['id']}")

    again = await create_user(client, "bjensen@example.com")

    assert again["id"] != created["id"]


async def test_deleting_an_unknown_user_answers_404_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    await _babs(client)
    before = await snapshot(client)

    assert_scim_error(await client.delete(f"/Users/{UNKNOWN_ID}"), 404)

    assert await snapshot(client) == before


async def test_delete_with_a_stale_if_match_answers_412_and_keeps_the_user(client: httpx2.AsyncClient) -> None:
    created = await create_user(client, "bjensen")
    await patch_ok(client, f"/Users/{created['id']}", {"op": "add", "path": "nickName", "value": "B"})
    before = await snapshot(client)

    response = await client.delete(f"/Users/{created['id']}", headers={"If-Match": created["meta"]["version"]})

    assert_scim_error(response, 412)
    assert await snapshot(client) == before
