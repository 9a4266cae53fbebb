"""POST /{type}/.search and POST /.search with SearchRequest bodies (RFC 7644 §3.4.3)."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_list_response
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import assert_scim_media_type
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
async def people(client: httpx2.AsyncClient) -> dict[str, dict[str, Any]]:
    """Four users and three groups; the groups have members."""
    users = {}
    for name, title, family in (("dana", "eng", "Doe"), ("Ari", "ops", None), ("cy", "eng", "Chu"), ("bo", None, "B")):
        extra: dict[str, Any] = {"emails": [{"value": f"{name}@example.com", "type": "work"}]}
        if title:
            extra["title"] = title
        if family:
            extra["name"] = {"familyName": family, "givenName": name.title()}
        users[name] = await create_user(client, name, schemas=[USER, ENTERPRISE], **extra)
    for display, members in (("Engineering", ["dana", "cy"]), ("all", ["dana", "Ari", "cy", "bo"]), ("Empty", [])):
        await create_group(client, display, [users[m]["id"] for m in members])
    return users


async def post_search(client: httpx2.AsyncClient, path: str, body: Any) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 200, response.text
    assert_scim_media_type(response)
    result: dict[str, Any] = response.json()
    return result


def names(body: dict[str, Any]) -> list[str]:
    return [r.get("userName") or r["displayName"] for r in body["Resources"]]


EQUIVALENTS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("/Users", {}, {}),
    ("/Users", {"filter": 'title eq "eng"'}, {"filter": 'title eq "eng"'}),
    (
        "/Users",
        {"filter": "title pr", "sortBy": "userName", "sortOrder": "descending"},
        {"filter": "title pr", "sortBy": "userName", "sortOrder": "descending"},
    ),
    ("/Users", {"attributes": ["userName", "name.familyName"]}, {"attributes": "userName,name.familyName"}),
    (
        "/Users",
        {"attributes": ["emails"], "sortBy": "name.familyName"},
        {"attributes": "emails", "sortBy": "name.familyName"},
    ),
    ("/Users", {"excludedAttributes": ["emails", "name"]}, {"excludedAttributes": "emails,name"}),
    ("/Users", {"excludedAttributes": "emails"}, {"excludedAttributes": "emails"}),
    (
        "/Users",
        {"sortBy": "userName", "startIndex": 2, "count": 2},
        {"sortBy": "userName", "startIndex": 2, "count": 2},
    ),
    ("/Users", {"startIndex": 3}, {"startIndex": 3}),
    ("/Users", {"count": 0}, {"count": 0}),
    ("/Groups", {}, {}),
    ("/Groups", {"filter": 'displayName sw "e"'}, {"filter": 'displayName sw "e"'}),
    (
        "/Groups",
        {"attributes": ["displayName"], "sortBy": "displayName"},
        {"attributes": "displayName", "sortBy": "displayName"},
    ),
    (
        "/Groups",
        {"excludedAttributes": ["members"], "count": 1, "startIndex": 2},
        {"excludedAttributes": "members", "count": 1, "startIndex": 2},
    ),
    (
        "/Groups",
        {"attributes": ["members"], "filter": 'displayName eq "all"'},
        {"attributes": "members", "filter": 'displayName eq "all"'},
    ),
]


@pytest.mark.parametrize(("endpoint", "body", "query"), EQUIVALENTS)
async def test_post_search_answers_exactly_what_the_equivalent_get_answers(
    client: httpx2.AsyncClient, people: dict[str, Any], endpoint: str, body: dict[str, Any], query: dict[str, Any]
) -> None:
    posted = await post_search(client, f"{endpoint}/.search", {"schemas": [SEARCH_REQUEST], **body})
    got = await get_ok(client, endpoint, params=query)

    assert posted == got
    assert posted["totalResults"] >= len(posted["Resources"])


async def test_post_search_projects_attributes_given_as_an_array(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    body = await post_search(
        client,
        "/Users/.search",
        {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "dana"', "attributes": ["name.familyName"]},
    )

    (user,) = assert_list_response(body, total=1)
    assert user["name"] == {"familyName": "Doe"}
    assert "emails" not in user
    assert "title" not in user
    assert user["id"] == people["dana"]["id"]  # returned "always"


async def test_post_search_parameter_names_are_case_insensitive(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    body = await post_search(
        client, "/Users/.search", {"schemas": [SEARCH_REQUEST], "FILTER": 'title eq "eng"', "SortBy": "userName"}
    )

    assert names(body) == ["cy", "dana"]


async def test_post_search_without_schemas_is_accepted(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    body = await post_search(client, "/Users/.search", {"filter": 'userName eq "bo"'})

    assert names(body) == ["bo"]


@pytest.mark.parametrize(
    "schemas",
    [
        ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        [USER],
        [],
        SEARCH_REQUEST,
        [SEARCH_REQUEST.upper()[:-1]],
    ],
)
async def test_wrong_schemas_answer_400_invalid_value(
    client: httpx2.AsyncClient, people: dict[str, Any], schemas: Any
) -> None:
    response = await client.post("/Users/.search", json={"schemas": schemas, "filter": 'userName eq "bo"'})

    assert_scim_error(response, 400, "invalidValue")


@pytest.mark.parametrize("body", [[], ["filter"], "filter", 5, None, True])
@pytest.mark.parametrize("path", ["/Users/.search", "/Groups/.search", "/.search"])
async def test_a_body_that_is_not_an_object_answers_400_invalid_syntax(
    client: httpx2.AsyncClient, path: str, body: Any
) -> None:
    assert_scim_error(await client.post(path, json=body), 400, "invalidSyntax")


async def test_a_body_that_is_not_json_answers_400_invalid_syntax(client: httpx2.AsyncClient) -> None:
    response = await client.post(
        "/Users/.search", content=b'{"filter": ', headers={"Content-Type": "application/scim+json"}
    )

    assert_scim_error(response, 400, "invalidSyntax")


@pytest.mark.parametrize(("field", "value"), [("count", "many"), ("startIndex", "first"), ("count", True)])
async def test_a_non_integer_count_or_start_index_answers_400_invalid_value(
    client: httpx2.AsyncClient, field: str, value: Any
) -> None:
    response = await client.post("/Users/.search", json={"schemas": [SEARCH_REQUEST], field: value})

    assert_scim_error(response, 400, "invalidValue")


async def test_an_invalid_filter_in_a_search_request_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    response = await client.post("/Users/.search", json={"schemas": [SEARCH_REQUEST], "filter": "userName eq"})

    assert_scim_error(response, 400, "invalidFilter")


# -- POST /.search ---------------------------------------------------------------------------
async def test_root_search_counts_users_and_groups(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    body = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST]})

    resources = assert_list_response(body, total=4 + 3)
    assert [r["meta"]["resourceType"] for r in resources] == ["User"] * 4 + ["Group"] * 3
    assert names(body) == ["dana", "Ari", "cy", "bo", "Engineering", "all", "Empty"]


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (1, 3, ["dana", "Ari", "cy"]),
        (3, 2, ["cy", "bo"]),
        (4, 2, ["bo", "Engineering"]),
        (3, 4, ["cy", "bo", "Engineering", "all"]),
        (2, 100, ["Ari", "cy", "bo", "Engineering", "all", "Empty"]),
        (5, 2, ["Engineering", "all"]),
        (6, 5, ["all", "Empty"]),
        (7, 1, ["Empty"]),
        (8, 5, []),
        (40, 5, []),
    ],
)
async def test_root_search_pages_across_the_boundary_between_types(
    client: httpx2.AsyncClient, people: dict[str, Any], start: int, count: int, expected: list[str]
) -> None:
    body = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "startIndex": start, "count": count})

    assert_list_response(body, total=7, start_index=start)
    assert names(body) == expected


@pytest.mark.parametrize("count", [1, 2, 3, 5])
async def test_root_search_pages_concatenate_to_the_whole_result(
    client: httpx2.AsyncClient, people: dict[str, Any], count: int
) -> None:
    everything = names(await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST]}))

    paged: list[str] = []
    for start in range(1, 8, count):
        page = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "startIndex": start, "count": count})
        paged += names(page)

    assert paged == everything


async def test_root_search_with_a_user_only_attribute_returns_only_users(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    body = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "filter": 'userName sw "d"'})

    (user,) = assert_list_response(body, total=1)
    assert user["id"] == people["dana"]["id"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "bo" or displayName eq "all"', ["bo", "all"]),
        ("not (userName pr)", ["Engineering", "all", "Empty"]),
    ],
)
async def test_root_search_treats_an_attribute_a_type_lacks_as_unassigned(
    client: httpx2.AsyncClient, people: dict[str, Any], text: str, expected: list[str]
) -> None:
    body = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "filter": text})

    assert names(body) == expected


async def test_root_search_with_a_shared_attribute_returns_both_types(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    await create_user(client, "eve", displayName="Engineering")

    body = await post_search(
        client, "/.search", {"schemas": [SEARCH_REQUEST], "filter": 'displayName eq "engineering"'}
    )

    assert [r["meta"]["resourceType"] for r in assert_list_response(body, total=2)] == ["User", "Group"]


async def test_root_search_with_a_filter_binding_to_no_type_answers_400_invalid_filter(
    client: httpx2.AsyncClient, people: dict[str, Any]
) -> None:
    response = await client.post("/.search", json={"schemas": [SEARCH_REQUEST], "filter": 'noSuchThing eq "x"'})

    assert_scim_error(response, 400, "invalidFilter")


async def test_root_search_with_a_malformed_filter_answers_400_invalid_filter(client: httpx2.AsyncClient) -> None:
    response = await client.post("/.search", json={"schemas": [SEARCH_REQUEST], "filter": 'userName eq "x'})

    assert_scim_error(response, 400, "invalidFilter")


async def test_root_search_sorts_within_each_type(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    body = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "sortBy": "displayName"})

    assert names(body)[4:] == ["all", "Empty", "Engineering"]


async def test_root_search_projects_attributes(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    body = await post_search(
        client, "/.search", {"schemas": [SEARCH_REQUEST], "attributes": ["displayName"], "count": 100}
    )

    for resource in body["Resources"]:
        assert set(resource) <= {"schemas", "id", "displayName"}, resource


# -- count and startIndex edge cases (RFC 7644 §3.4.2.4) --------------------------------------
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/Users"), ("GET", "/Groups"), ("POST", "/Users/.search"), ("POST", "/.search")]
)
async def test_count_zero_returns_the_total_and_no_resources(
    client: httpx2.AsyncClient, people: dict[str, Any], method: str, path: str
) -> None:
    if method == "GET":
        body = await get_ok(client, path, params={"count": 0})
    else:
        body = await post_search(client, path, {"schemas": [SEARCH_REQUEST], "count": 0})

    expected = {"/Users": 4, "/Groups": 3, "/Users/.search": 4, "/.search": 7}[path]
    assert assert_list_response(body, total=expected) == []


async def test_a_negative_count_is_taken_as_zero(client: httpx2.AsyncClient, people: dict[str, Any]) -> None:
    body = await get_ok(client, "/Users", params={"count": -3})

    assert assert_list_response(body, total=4) == []


@pytest.mark.parametrize("start", [0, -1, -100])
@pytest.mark.parametrize("path", ["/Users", "/.search"])
async def test_a_start_index_below_one_is_taken_as_one(
    client: httpx2.AsyncClient, people: dict[str, Any], start: int, path: str
) -> None:
    if path == "/Users":
        body = await get_ok(client, path, params={"startIndex": start, "count": 2})
        first = await get_ok(client, path, params={"startIndex": 1, "count": 2})
    else:
        body = await post_search(client, path, {"schemas": [SEARCH_REQUEST], "startIndex": start, "count": 2})
        first = await post_search(client, path, {"schemas": [SEARCH_REQUEST], "startIndex": 1, "count": 2})

    assert body["startIndex"] == 1
    assert body == first


@pytest.mark.parametrize("count", [1001, 10**9])
async def test_a_count_over_the_maximum_is_clamped_on_index_paging(
    client: httpx2.AsyncClient, people: dict[str, Any], count: int
) -> None:
    body = await get_ok(client, "/Users", params={"count": count})

    assert len(assert_list_response(body, total=4)) == 4


async def test_the_clamp_is_settings_max_results(
    settings: Settings, store: SqlStore, acme: Any, people: dict[str, Any]
) -> None:
    small = app_with(settings, store, max_results=3)
    async with client_for(small, acme.token) as client:
        users = await get_ok(client, "/Users", params={"count": 1000})
        posted = await post_search(client, "/Users/.search", {"schemas": [SEARCH_REQUEST], "count": 50})
        root = await post_search(client, "/.search", {"schemas": [SEARCH_REQUEST], "count": 50, "startIndex": 3})
        cursor = await client.get("/Users", params={"cursor": "", "count": 4})

    assert len(assert_list_response(users, total=4)) == 3
    assert len(assert_list_response(posted, total=4)) == 3
    assert names(root) == ["cy", "bo", "Engineering"]
    assert_scim_error(cursor, 400, "invalidCount")


async def test_root_search_sorts_by_an_attribute_only_users_have(client: httpx2.AsyncClient) -> None:
    for name in ("zed", "amy"):
        assert (await client.post("/Users", json={"userName": name})).status_code == 201
    assert (await client.post("/Groups", json={"displayName": "G"})).status_code == 201
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "sortBy": "userName"}
    response = await client.post("/.search", json=body)
    assert response.status_code == 200, response.text
    names = [r.get("userName") or r.get("displayName") for r in response.json()["Resources"]]
    assert names[:2] == ["amy", "zed"] and "G" in names
    body["sortBy"] = "noSuchAttribute"
    assert (await client.post("/.search", json=body)).status_code == 400
