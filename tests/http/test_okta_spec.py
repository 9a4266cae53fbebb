"""The flow of Okta's Runscope "Okta SCIM 2.0 SPEC Test", step by step (IDP_QUIRKS §1, O-SPEC).

Headers, URLs and bodies are those of the suite's steps; the assertions are the suite's,
sometimes tightened (status is compared as the RFC's string, not only as text).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from tests.http.scim_checks import ERROR
from tests.http.scim_checks import LIST_RESPONSE
from tests.http.scim_checks import USER
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

GET_HEADERS = {
    "Accept-Charset": "utf-8",
    "Content-Type": "application/scim+json; charset=utf-8",
    "Accept": "application/scim+json",
    "User-Agent": "OKTA SCIM Integration",
}
POST_HEADERS = {"Content-Type": "application/json", "Accept": "application/scim+json; charset=utf-8"}

RANDOM_GIVEN = "Runscope"
RANDOM_FAMILY = "Tester"
RANDOM_USERNAME = "runscope.tester.4711@atko.com"
RANDOM_EMAIL = "runscope.tester.4711.mail@atko.com"
INVALID_USER_EMAIL = "abcdefgh@atko.com"


@pytest.fixture
async def seeded(client: httpx2.AsyncClient) -> dict[str, Any]:
    """The spec test needs at least one user with a full profile before it runs."""
    return await create_user(
        client,
        "existing.user@atko.com",
        name={"givenName": "Existing", "familyName": "User"},
        emails=[{"primary": True, "value": "existing.user@atko.com", "type": "work"}],
        displayName="Existing User",
        active=True,
    )


def _create_body(email: str) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": RANDOM_USERNAME,
        "name": {"givenName": RANDOM_GIVEN, "familyName": RANDOM_FAMILY},
        "emails": [{"primary": True, "value": email, "type": "work"}],
        "displayName": f"{RANDOM_GIVEN} {RANDOM_FAMILY}",
        "active": True,
    }


def _assert_profile(user: dict[str, Any]) -> None:
    for value in (user["id"], user["name"]["familyName"], user["name"]["givenName"], user["userName"]):
        assert value
    assert user["active"] is not None
    assert user["emails"][0]["value"]


async def test_step_0_list_one_user_returns_a_complete_list_response(
    client: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    response = await client.get("/Users?count=1&startIndex=1", headers=GET_HEADERS)

    assert response.status_code == 200
    body = response.json()
    assert LIST_RESPONSE in body["schemas"]
    for key in ("itemsPerPage", "startIndex", "totalResults"):
        assert type(body[key]) is int
    assert body["Resources"]
    _assert_profile(body["Resources"][0])


async def test_step_2_get_the_listed_user_by_id(client: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    listed = (await client.get("/Users?count=1&startIndex=1", headers=GET_HEADERS)).json()
    user_id = listed["Resources"][0]["id"]

    response = await client.get(f"/Users/{user_id}", headers=GET_HEADERS)

    assert response.status_code == 200
    _assert_profile(response.json())
    assert response.json()["id"] == user_id


async def test_step_4_an_unknown_user_name_filter_answers_200_with_zero_results(
    client: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    response = await client.get(f'/Users?filter=userName eq "{INVALID_USER_EMAIL}"', headers=GET_HEADERS)

    assert response.status_code == 200
    assert LIST_RESPONSE in response.json()["schemas"]
    assert response.json()["totalResults"] == 0


@pytest.mark.parametrize("user_id", ["010101001010101011001010101011", "00919288221112222"])
async def test_steps_6_and_22_an_unknown_id_answers_404_with_detail_and_status(
    client: httpx2.AsyncClient, seeded: dict[str, Any], user_id: str
) -> None:
    response = await client.get(f"/Users/{user_id}", headers=GET_HEADERS)

    body = assert_scim_error(response, 404)
    assert ERROR in body["schemas"]
    assert body["status"] == "404"
    assert body["detail"]


async def test_step_8_the_existence_check_with_percent_encoding_finds_nothing(
    client: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    # The form Okta's provisioning sends (O-REF): %20 for spaces, %40 for @.
    url = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100"

    response = await client.get(url, headers=GET_HEADERS)

    assert response.status_code == 200
    assert response.json()["totalResults"] == 0
    assert LIST_RESPONSE in response.json()["schemas"]


async def test_steps_10_to_16_create_read_recreate_and_case_check(
    client: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    created = await client.post("/Users", json=_create_body(RANDOM_EMAIL), headers=POST_HEADERS)

    assert created.status_code == 201, created.text
    user = created.json()
    assert user["active"] is True
    assert user["id"]
    assert user["name"] == {"givenName": RANDOM_GIVEN, "familyName": RANDOM_FAMILY}
    assert USER in user["schemas"]
    assert user["userName"] == RANDOM_USERNAME
    assert user["emails"][0]["value"] == RANDOM_EMAIL

    fetched = await client.get(f"/Users/{user['id']}", headers=GET_HEADERS)
    assert fetched.status_code == 200
    assert fetched.json()["userName"] == RANDOM_USERNAME
    assert fetched.json()["name"] == {"givenName": RANDOM_GIVEN, "familyName": RANDOM_FAMILY}

    again = await client.post("/Users", json=_create_body(RANDOM_USERNAME), headers=POST_HEADERS)
    assert_scim_error(again, 409, "uniqueness")

    caps = await client.get(f'/Users?filter=userName eq "{RANDOM_USERNAME.upper()}"', headers=GET_HEADERS)
    assert caps.status_code == 200
    assert [r["id"] for r in caps.json()["Resources"]] == [user["id"]]


async def test_step_18_groups_endpoint_answers_quickly_with_an_array(
    client: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    empty = await client.get("/Groups", headers=GET_HEADERS)
    await create_group(client, "Okta Group", [seeded["id"]])

    started = time.perf_counter()
    response = await client.get("/Groups", headers=GET_HEADERS)
    elapsed = time.perf_counter() - started

    assert (empty.status_code, empty.json()["totalResults"]) == (200, 0)
    assert response.status_code == 200
    assert elapsed < 0.6
    assert response.json()["totalResults"] >= 1
    assert isinstance(response.json()["Resources"], list)


async def test_step_20_a_non_token_authorization_answers_401_with_detail_and_status(
    app: object, acme: TenantAccess
) -> None:
    async with client_for(app, None) as client:
        response = await client.get(
            f'/Users?filter=userName eq "{RANDOM_USERNAME.upper()}"',
            headers={**GET_HEADERS, "Authorization": "non-token"},
        )

    body = assert_scim_error(response, 401)
    assert body["status"] == "401"
    assert ERROR in body["schemas"]
    assert body["detail"]
