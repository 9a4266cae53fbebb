"""Filtering lists (RFC 7644 §3.4.2.2) as IdPs use it: ``eq`` lookups, encoded every which way."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search

pytestmark = pytest.mark.anyio


@pytest.fixture
async def people(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    """Three users with distinct lookup values, and a group."""
    babs = await create_user(
        client,
        "bjensen@example.com",
        externalId="AbC-701984",
        displayName="Babs Jensen",
        emails=[{"value": "Babs@Example.com", "type": "work"}, {"value": "babs@home.example", "type": "home"}],
    )
    kathy = await create_user(
        client,
        "kjensen@example.com",
        externalId="701985",
        displayName="Kathy Jensen",
        emails=[{"value": "kathy@example.com", "type": "work"}],
    )
    mandy = await create_user(client, "mpepperidge@example.com", displayName="Mandy Pepperidge")
    return {"babs": babs, "kathy": kathy, "mandy": mandy}


def _ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body["Resources"]]


async def test_user_name_eq_finds_the_user(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'userName eq "bjensen@example.com"')

    (resource,) = assert_list_response(found, total=1)
    assert resource == people["babs"]


@pytest.mark.parametrize("spelling", ["BJENSEN@EXAMPLE.COM", "BJensen@Example.Com"])
async def test_user_name_eq_is_case_insensitive(
    client: httpx2.AsyncClient, people: dict[str, Any], spelling: str
) -> None:
    found = await search(client, "/Users", f'userName eq "{spelling}"')

    assert _ids(found) == [people["babs"]["id"]]


async def test_attribute_names_and_operators_are_case_insensitive(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    found = await search(client, "/Users", 'USERNAME EQ "bjensen@example.com"')

    assert _ids(found) == [people["babs"]["id"]]


async def test_external_id_eq_finds_the_user(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'externalId eq "AbC-701984"')

    assert _ids(found) == [people["babs"]["id"]]


@pytest.mark.parametrize("spelling", ["abc-701984", "ABC-701984"])
async def test_external_id_is_case_exact(client: httpx2.AsyncClient, people: dict[str, Any], spelling: str) -> None:
    found = await search(client, "/Users", f'externalId eq "{spelling}"')

    assert assert_list_response(found, total=0) == []


async def test_display_name_eq_finds_the_user(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'displayName eq "kathy jensen"')

    assert _ids(found) == [people["kathy"]["id"]]


@pytest.mark.parametrize("address", ["Babs@Example.com", "babs@example.com", "babs@home.example"])
async def test_emails_value_eq_matches_any_email_case_insensitively(
    client: httpx2.AsyncClient, people: dict[str, Any], address: str
) -> None:
    found = await search(client, "/Users", f'emails.value eq "{address}"')

    assert _ids(found) == [people["babs"]["id"]]


async def test_emails_eq_compares_the_value_sub_attribute(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'emails eq "kathy@example.com"')

    assert _ids(found) == [people["kathy"]["id"]]


async def test_id_eq_finds_the_user(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", f'id eq "{people["mandy"]["id"]}"')

    assert _ids(found) == [people["mandy"]["id"]]


async def test_a_urn_qualified_attribute_name_is_accepted(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(
        client, "/Users", 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "kjensen@example.com"'
    )

    assert _ids(found) == [people["kathy"]["id"]]


async def test_and_combines_equalities(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    both = await search(client, "/Users", 'userName eq "kjensen@example.com" and externalId eq "701985"')
    neither = await search(client, "/Users", 'userName eq "kjensen@example.com" and externalId eq "AbC-701984"')

    assert _ids(both) == [people["kathy"]["id"]]
    assert assert_list_response(neither, total=0) == []


async def test_or_unites_equalities_in_a_stable_order(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'displayName eq "Mandy Pepperidge" or userName eq "bjensen@example.com"')

    assert_list_response(found, total=2)
    assert _ids(found) == [people["babs"]["id"], people["mandy"]["id"]]


async def test_a_filter_without_match_answers_200_with_zero_results(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    response = await client.get("/Users", params={"filter": 'userName eq "abcdefgh@atko.com"'})

    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


async def test_filter_results_are_paged(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    page = await search(
        client, "/Users", 'displayName eq "Babs Jensen" or displayName eq "Kathy Jensen"', count=1, startIndex=2
    )

    assert_list_response(page, total=2, start_index=2)
    assert _ids(page) == [people["kathy"]["id"]]


async def test_plus_encoded_spaces_are_decoded(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await get_ok(client, "/Users?filter=externalId+eq+%22701985%22")

    assert _ids(found) == [people["kathy"]["id"]]


async def test_percent_encoded_spaces_and_at_signs_are_decoded(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    found = await get_ok(client, "/Users?filter=userName%20eq%20%22bjensen%40example.com%22&startIndex=1&count=100")

    assert _ids(found) == [people["babs"]["id"]]


async def test_the_filter_parameter_name_is_case_insensitive(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    found = await get_ok(client, "/Users", params={"Filter": 'userName eq "bjensen@example.com"'})

    assert _ids(found) == [people["babs"]["id"]]


async def test_an_empty_filter_lists_everything(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await get_ok(client, "/Users", params={"filter": ""})

    assert len(assert_list_response(found, total=3)) == 3


async def test_a_deactivated_user_is_still_found_by_filter(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    await patch_ok(client, f"/Users/{people['babs']['id']}", {"op": "replace", "value": {"active": False}})

    found = await search(client, "/Users", 'userName eq "bjensen@example.com"')

    assert [r["active"] for r in found["Resources"]] == [False]


async def test_a_user_name_filter_does_not_find_groups(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    await create_group(client, "Babs Jensen")

    users = await search(client, "/Users", 'displayName eq "Babs Jensen"')
    groups = await search(client, "/Groups", 'displayName eq "Babs Jensen"')

    assert _ids(users) == [people["babs"]["id"]]
    assert groups["totalResults"] == 1
    assert groups["Resources"][0]["id"] != people["babs"]["id"]


async def test_a_filter_sees_changes_made_by_patch(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    await patch_ok(
        client, f"/Users/{people['mandy']['id']}", {"op": "replace", "path": "userName", "value": "mandy@new.example"}
    )

    old = await search(client, "/Users", 'userName eq "mpepperidge@example.com"')
    new = await search(client, "/Users", 'userName eq "MANDY@new.example"')

    assert old["totalResults"] == 0
    assert _ids(new) == [people["mandy"]["id"]]


@pytest.mark.parametrize(
    "text",
    [
        "userName eq",
        'userName eq "unterminated',
        'userName xx "a"',
        '(userName eq "a"',
        'userName eq "a" and',
        'userName eq "a" )',
        "userName",
        'emails[type eq "work"',
    ],
)
async def test_a_malformed_filter_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any], text: str
) -> None:
    assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")


@pytest.mark.parametrize(
    "text",
    [
        'noSuchAttribute eq "x"',
        'name.noSuchPart eq "x"',
        'urn:example:unknown:2.0:User:thing eq "x"',
        'emails[noSuch eq "work"]',
    ],
)
async def test_a_filter_on_an_unknown_attribute_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any], text: str
) -> None:
    body = assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")

    assert "unknown" in body["detail"].lower()


@pytest.mark.parametrize(
    "text",
    [
        "active gt true",
        "userName eq 5",
        'name eq "x"',
        "userName gt 5",
    ],
)
async def test_a_filter_comparing_incompatible_types_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any], text: str
) -> None:
    assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")


@pytest.mark.parametrize(
    ("text", "who"),
    [
        ('userName co "JENSEN"', ["babs", "kathy"]),
        ('userName sw "m"', ["mandy"]),
        ('userName ew "@example.com"', ["babs", "kathy", "mandy"]),
        ("externalId pr", ["babs", "kathy"]),
        ('displayName ne "Babs Jensen"', ["kathy", "mandy"]),
        ('emails[type eq "home"]', ["babs"]),
        ('emails[type eq "work" and value co "kathy"]', ["kathy"]),
    ],
)
async def test_other_operators_give_exact_answers(
    client: httpx2.AsyncClient, people: dict[str, Any], text: str, who: list[str]
) -> None:
    found = await search(client, "/Users", text)

    assert_list_response(found, total=len(who))
    assert _ids(found) == [people[name]["id"] for name in who]


async def test_a_filter_with_too_many_operators_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    text = " or ".join(f'userName eq "u{i}"' for i in range(300))

    assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")


async def test_a_filter_on_an_attribute_the_server_cannot_filter_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    text = f'meta.location eq "{people["babs"]["meta"]["location"]}"'

    assert_scim_error(await client.get("/Users", params={"filter": text}), 400, "invalidFilter")


async def test_filtering_on_active_finds_exactly_the_matching_users(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    await patch_ok(client, f"/Users/{people['kathy']['id']}", {"op": "replace", "path": "active", "value": False})
    await patch_ok(client, f"/Users/{people['babs']['id']}", {"op": "replace", "path": "active", "value": True})

    inactive = await search(client, "/Users", "active eq false")
    active = await search(client, "/Users", "active eq true")

    assert _ids(inactive) == [people["kathy"]["id"]]
    assert _ids(active) == [people["babs"]["id"]]


async def test_not_matches_users_that_lack_the_attribute(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'not (externalId eq "701985")')

    assert _ids(found) == [people["babs"]["id"], people["mandy"]["id"]]


async def test_entras_typed_email_filter_finds_the_user(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    found = await search(client, "/Users", 'emails[type eq "work"].value eq "kathy@example.com"')

    assert _ids(found) == [people["kathy"]["id"]]


@pytest.mark.parametrize(
    ("endpoint", "text"), [("/Groups", 'members.value eq "{user}"'), ("/Users", 'groups.value eq "{group}"')]
)
async def test_a_filter_on_memberships_matches_or_is_refused_never_silently_empty(
    client: httpx2.AsyncClient, people: dict[str, Any], endpoint: str, text: str
) -> None:
    group = await create_group(client, "Tour Guides", [people["babs"]["id"]])
    text = text.format(user=people["babs"]["id"], group=group["id"])

    response = await client.get(endpoint, params={"filter": text})

    if response.status_code == 400:
        assert_scim_error(response, 400, "invalidFilter")
    else:
        expected = group["id"] if endpoint == "/Groups" else people["babs"]["id"]
        assert _ids(response.json()) == [expected]
