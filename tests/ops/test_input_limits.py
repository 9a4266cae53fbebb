"""Limits on input: each refused with a clear SCIM error, and nothing changes."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest

from scimhub.http.media import MAX_JSON_CONTAINERS
from scimhub.http.media import MAX_JSON_DEPTH
from scimhub.limits import DEFAULT_LIMITS
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

SMALL = {
    "max_body_bytes": 2000,
    "max_filter_length": 60,
    "max_filter_depth": 3,
    "max_patch_operations": 3,
    "max_members_per_request": 3,
    "max_string_length": 40,  # above the 36 characters of an id (member values are strings too)
    "max_values_per_attribute": 2,  # below max_members_per_request: members are not capped by it
    "max_patch_comparisons": 10,
    "max_resource_bytes": 400,
}


@pytest.fixture
async def small(settings: Settings, store: SqlStore, acme: TenantAccess) -> AsyncIterator[httpx2.AsyncClient]:
    """acme on an app with small limits (the same database as the ``acme`` fixture's app)."""
    async with client_for(app_with(settings, store, **SMALL), acme.token) as client:
        yield client


@pytest.fixture
async def seeded(small: httpx2.AsyncClient) -> dict[str, Any]:
    """Four users and a group with one member; ``before`` is the snapshot of all of it."""
    users = [(await create_user(small, f"user{i}"))["id"] for i in range(4)]
    group = await create_group(small, "Staff", users[:1])
    return {"users": users, "group": group["id"], "before": await snapshot(small)}


def test_the_defaults_are_documented_values() -> None:
    assert (
        DEFAULT_LIMITS.max_string_length,
        DEFAULT_LIMITS.max_members_per_request,
        DEFAULT_LIMITS.max_patch_operations,
        DEFAULT_LIMITS.max_filter_length,
        DEFAULT_LIMITS.max_filter_depth,
        DEFAULT_LIMITS.max_values_per_attribute,
        DEFAULT_LIMITS.max_patch_comparisons,
        DEFAULT_LIMITS.max_resource_bytes,
    ) == (65_536, 50_000, 1_000, 4_096, 32, 1_000, 25_000, 1_048_576)
    assert Settings().limits == DEFAULT_LIMITS
    assert Settings().max_body_bytes == 4 * 1024 * 1024


# -- body size -------------------------------------------------------------------------------------
async def test_the_body_limit_is_advertised_as_bulk_max_payload_size(small: httpx2.AsyncClient) -> None:
    config = await get_ok(small, "/ServiceProviderConfig")

    assert config["bulk"]["maxPayloadSize"] == SMALL["max_body_bytes"]


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", "/Users"),
        ("POST", "/Groups"),
        ("PUT", "/Users/{user}"),
        ("PATCH", "/Users/{user}"),
        ("PATCH", "/Groups/{group}"),
        ("POST", "/Users/.search"),
        ("POST", "/.search"),
    ],
)
async def test_a_body_over_the_limit_answers_413_and_changes_nothing(
    small: httpx2.AsyncClient, seeded: dict[str, Any], method: str, url: str
) -> None:
    padding = "x" * (SMALL["max_body_bytes"] + 1)
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "big", "title": padding}

    response = await small.request(method, url.format(user=seeded["users"][0], group=seeded["group"]), json=body)

    error = assert_scim_error(response, 413)
    assert error["detail"] == f"The request body exceeds the limit of {SMALL['max_body_bytes']} bytes."
    assert await snapshot(small) == seeded["before"]


# -- filters ---------------------------------------------------------------------------------------
async def test_a_filter_over_the_length_limit_is_refused(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    long_filter = 'userName eq "' + "a" * SMALL["max_filter_length"] + '"'
    just_right = 'userName eq "' + "a" * (SMALL["max_filter_length"] - 14) + '"'
    assert len(just_right) == SMALL["max_filter_length"]

    by_get = await small.get("/Users", params={"filter": long_filter})
    by_search = await small.post("/Users/.search", json={"filter": long_filter})
    by_root_search = await small.post("/.search", json={"filter": long_filter})

    for response in (by_get, by_search, by_root_search):
        error = assert_scim_error(response, 400, "invalidFilter")
        assert f"longer than the limit of {SMALL['max_filter_length']} characters" in error["detail"]
    assert (await get_ok(small, "/Users", params={"filter": just_right}))["totalResults"] == 0
    assert await snapshot(small) == seeded["before"]


async def test_a_filter_nested_too_deep_is_refused(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    depth = SMALL["max_filter_depth"]
    too_deep = "(" * (depth + 1) + "userName pr" + ")" * (depth + 1)
    deepest_allowed = "(" * depth + "userName pr" + ")" * depth
    value_path = 'not (emails[type eq "work" and (value pr and (display pr))])'

    for response in (
        await small.get("/Users", params={"filter": too_deep}),
        await small.post("/Users/.search", json={"filter": too_deep}),
        await small.get("/Users", params={"filter": value_path}),
    ):
        error = assert_scim_error(response, 400, "invalidFilter")
        assert f"nested deeper than {depth} levels" in error["detail"]
    assert (await get_ok(small, "/Users", params={"filter": deepest_allowed}))["totalResults"] == 4
    assert await snapshot(small) == seeded["before"]


async def test_a_patch_path_filter_is_bounded_by_the_default_filter_limits(acme: TenantAccess) -> None:
    """With the default settings PATCH paths are bounded at 4096 characters and 32 levels."""
    user = await create_user(acme.client, "bjensen")
    before = await snapshot(acme.client)
    long_path = 'emails[value eq "' + "a" * 4100 + '"].type'
    deep_path = "emails[" + "(" * 33 + 'type eq "work"' + ")" * 33 + "].value"

    for path, words in ((long_path, "longer than the limit of 4096"), (deep_path, "nested deeper than 32")):
        operation = {"op": "replace", "path": path, "value": "x"}
        error = assert_scim_error(
            await acme.client.patch(f"/Users/{user['id']}", json=patch_body(operation)), 400, "invalidPath"
        )
        assert words in error["detail"]
    assert await snapshot(acme.client) == before


async def test_a_patch_path_filter_is_bounded_by_the_configured_filter_limits(
    small: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    user = seeded["users"][0]
    too_long = 'emails[value eq "' + "a" * SMALL["max_filter_length"] + '"].type'
    operation = {"op": "replace", "path": too_long, "value": "x"}
    error = assert_scim_error(await small.patch(f"/Users/{user}", json=patch_body(operation)), 400, "invalidPath")
    assert f"longer than the limit of {SMALL['max_filter_length']}" in error["detail"]
    assert await snapshot(small) == seeded["before"]


# -- PATCH operations ------------------------------------------------------------------------------
async def test_too_many_patch_operations_are_refused(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    user = seeded["users"][0]
    operations = [
        {"op": "replace", "path": "title", "value": f"t{i}"} for i in range(SMALL["max_patch_operations"] + 1)
    ]

    response = await small.patch(f"/Users/{user}", json=patch_body(*operations))

    error = assert_scim_error(response, 400, "invalidValue")
    assert error["detail"] == f"At most {SMALL['max_patch_operations']} operations are accepted in one PATCH request."
    assert await snapshot(small) == seeded["before"]
    accepted = await small.patch(f"/Users/{user}", json=patch_body(*operations[:-1]))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["title"] == f"t{SMALL['max_patch_operations'] - 1}"


# -- members ---------------------------------------------------------------------------------------
async def test_too_many_members_in_a_create_are_refused(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    response = await small.post("/Groups", json=group_body("Everyone", seeded["users"]))

    error = assert_scim_error(response, 400, "invalidValue")
    assert error["detail"] == (
        f"At most {SMALL['max_members_per_request']} members (or values) may be sent in one request; "
        "this one has 4. Send them in batches."
    )
    assert await snapshot(small) == seeded["before"]
    await create_group(small, "Most", seeded["users"][:3])


async def test_too_many_members_in_a_replace_are_refused(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    response = await small.put(f"/Groups/{seeded['group']}", json=group_body("Staff", seeded["users"]))

    assert "this one has 4" in assert_scim_error(response, 400, "invalidValue")["detail"]
    assert await snapshot(small) == seeded["before"]


@pytest.mark.parametrize("split", [False, True], ids=["one-operation", "spread-over-operations"])
async def test_too_many_members_in_a_patch_are_refused(
    small: httpx2.AsyncClient, seeded: dict[str, Any], split: bool
) -> None:
    values = [{"value": u} for u in seeded["users"]]
    chunks = [values[:2], values[2:]] if split else [values]
    operations = [{"op": "add", "path": "members", "value": chunk} for chunk in chunks]

    response = await small.patch(f"/Groups/{seeded['group']}", json=patch_body(*operations))

    assert "this one has 4" in assert_scim_error(response, 400, "invalidValue")["detail"]
    assert await snapshot(small) == seeded["before"]


# -- values per attribute --------------------------------------------------------------------------
TWO_EMAILS = [{"value": "a@example.com", "type": "work"}, {"value": "b@example.com", "type": "home"}]
THIRD_EMAIL = {"value": "c@example.com", "type": "other"}


async def test_too_many_values_in_one_attribute_are_refused_on_every_write(
    small: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    user = seeded["users"][0]
    three = [*TWO_EMAILS, THIRD_EMAIL]
    refused = [
        await small.post("/Users", json=user_body("newbie", emails=three)),
        await small.put(f"/Users/{user}", json=user_body("user0", emails=three)),
        await small.patch(f"/Users/{user}", json=patch_body({"op": "add", "path": "emails", "value": three})),
        await small.patch(f"/Users/{user}", json=patch_body({"op": "replace", "value": {"emails": three}})),
        await small.patch(
            f"/Users/{user}",
            json=patch_body(
                {"op": "add", "path": "emails", "value": TWO_EMAILS},
                {"op": "add", "path": 'emails[type eq "other"].value', "value": "c@example.com"},
            ),
        ),
    ]

    for response in refused:
        error = assert_scim_error(response, 400, "invalidValue")
        assert error["detail"] == "'emails' has 3 values; at most 2 are accepted in one attribute."
    assert await snapshot(small) == seeded["before"]
    at_the_cap = await small.patch(
        f"/Users/{user}", json=patch_body({"op": "add", "path": "emails", "value": TWO_EMAILS})
    )
    assert at_the_cap.status_code == 200, at_the_cap.text
    assert at_the_cap.json()["emails"] == TWO_EMAILS


async def test_members_are_not_capped_as_values(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    group = await create_group(small, "Three", seeded["users"][:3])

    assert len(group["members"]) == 3 > SMALL["max_values_per_attribute"]


async def test_the_value_cap_is_stated_in_the_schema(small: httpx2.AsyncClient) -> None:
    user = await get_ok(small, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
    group = (await get_ok(small, "/Schemas"))["Resources"][1]
    described = {a["name"]: a["description"] for a in [*user["attributes"], *group["attributes"]]}

    capped = "This server accepts at most 2 values."
    assert described["emails"].endswith(f"'work', 'home', and 'other'. {capped}")
    assert all(described[name].endswith(capped) for name in ("phoneNumbers", "addresses", "roles"))
    assert capped not in described["members"]  # rows, capped per request
    assert capped not in described["groups"]  # readOnly: never sent
    assert capped not in described["userName"]


# -- PATCH comparisons -----------------------------------------------------------------------------
async def test_a_patch_making_too_many_comparisons_is_refused(small: httpx2.AsyncClient) -> None:
    user = await create_user(small, "babs", emails=TWO_EMAILS)
    before = await snapshot(small)
    # Each filtered replace examines the 2 emails: 2 x (1 comparison + 1 dedupe) = 4.
    retype = [{"op": "replace", "path": f'emails[value eq "{e["value"]}"].type', "value": "x"} for e in TWO_EMAILS]

    response = await small.patch(f"/Users/{user['id']}", json=patch_body(*retype, retype[0]))

    error = assert_scim_error(response, 400, "invalidValue")
    assert error["detail"] == (
        "This PATCH would make more than 10 value comparisons (reached at 'emails.type'); "
        "send its operations in several requests."
    )
    assert await snapshot(small) == before
    accepted = await small.patch(f"/Users/{user['id']}", json=patch_body(*retype))
    assert accepted.status_code == 200, accepted.text
    assert [e["type"] for e in accepted.json()["emails"]] == ["x", "x"]


# -- resource size ---------------------------------------------------------------------------------
async def test_a_resource_may_not_grow_past_the_size_limit(small: httpx2.AsyncClient, seeded: dict[str, Any]) -> None:
    """No body is too large, but the PATCHes add up: the resource's JSON is what is limited."""
    user = seeded["users"][0]
    fill = {name: "x" * 40 for name in ("displayName", "nickName", "title", "profileUrl", "userType")}
    grow = patch_body({"op": "add", "value": fill})
    grown = await small.patch(f"/Users/{user}", json=grow)
    assert grown.status_code == 200, grown.text
    before = await snapshot(small)
    more = {name: "y" * 40 for name in ("preferredLanguage", "locale", "timezone")}

    refused = [
        await small.patch(f"/Users/{user}", json=patch_body({"op": "add", "value": more})),
        await small.put(f"/Users/{user}", json=user_body("user0", **fill, **more)),
        await small.post("/Users", json=user_body("newbie", **fill, **more)),
    ]

    for response in refused:
        error = assert_scim_error(response, 400, "invalidValue")
        assert re.fullmatch(r"The resource would be \d+ bytes of JSON; at most 400 are accepted\.", error["detail"])
    assert await snapshot(small) == before


# -- string lengths --------------------------------------------------------------------------------
async def test_a_string_over_the_length_limit_is_refused_on_every_write(
    small: httpx2.AsyncClient, seeded: dict[str, Any]
) -> None:
    limit = SMALL["max_string_length"]
    user = seeded["users"][0]
    long = "x" * (limit + 1)
    refused = [
        await small.post("/Users", json=user_body("newbie", displayName=long)),
        await small.post("/Users", json=user_body("newbie", emails=[{"value": long, "type": "work"}])),
        await small.post("/Groups", json=group_body(long)),
        await small.put(f"/Users/{user}", json=user_body("user0", title=long)),
        await small.patch(f"/Users/{user}", json=patch_body({"op": "replace", "path": "title", "value": long})),
        await small.patch(f"/Users/{user}", json=patch_body({"op": "add", "value": {"name": {"givenName": long}}})),
    ]
    wheres = ["displayName", "emails[0].value", "displayName", "title", "title", "name.givenName"]

    for response, where in zip(refused, wheres, strict=True):
        error = assert_scim_error(response, 400, "invalidValue")
        assert error["detail"] == f"'{where}' is longer than the limit of {limit} characters."
    assert await snapshot(small) == seeded["before"]


async def test_the_string_limit_counts_characters_not_bytes(small: httpx2.AsyncClient) -> None:
    created = await create_user(small, "ü" * SMALL["max_string_length"])

    assert created["userName"] == "ü" * SMALL["max_string_length"]


async def test_limits_come_from_the_environment(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    env = {
        "SCIMHUB_DATABASE_URL": settings.database_url,
        "SCIMHUB_RATE_LIMIT": "",
        "SCIMHUB_MAX_PATCH_OPERATIONS": "1",
        "SCIMHUB_MAX_STRING_LENGTH": "5",
        "SCIMHUB_MAX_VALUES_PER_ATTRIBUTE": "1",
    }
    configured = Settings.from_env(env)
    user = await create_user(acme.client, "bjensen")
    before = await snapshot(acme.client)
    async with client_for(app_with(configured, store), acme.token) as client:
        two = patch_body({"op": "add", "path": "title", "value": "a"}, {"op": "add", "path": "nickName", "value": "b"})
        too_many = await client.patch(f"/Users/{user['id']}", json=two)
        too_long = await client.post("/Users", json=user_body("abcdef"))
        too_many_values = await client.post("/Users", json=user_body("abc", emails=TWO_EMAILS))

    assert "At most 1 operations" in assert_scim_error(too_many, 400, "invalidValue")["detail"]
    assert "limit of 5 characters" in assert_scim_error(too_long, 400, "invalidValue")["detail"]
    assert "at most 1 are accepted" in assert_scim_error(too_many_values, 400, "invalidValue")["detail"]
    assert await snapshot(acme.client) == before


# -- JSON nesting ----------------------------------------------------------------------------------
def nested(depth: int) -> Any:
    """A JSON value ``depth`` levels deep (alternating objects and arrays)."""
    value: Any = "x"
    for level in range(depth):
        value = {"a": value} if level % 2 else [value]
    return value


async def test_a_body_nested_deeper_than_32_levels_is_refused(client: httpx2.AsyncClient) -> None:
    before = await snapshot(client)
    body = user_body("deep@example.com", title=nested(MAX_JSON_DEPTH))  # the body object is level 1

    response = await client.post("/Users", json=body)

    error = assert_scim_error(response, 400, "invalidSyntax")
    assert "deeper than 32 levels" in error["detail"]
    assert await snapshot(client) == before


async def test_a_body_of_more_than_100000_objects_and_arrays_is_refused_before_it_is_parsed(
    client: httpx2.AsyncClient,
) -> None:
    """4 MB of "{}," took 0.3-2.7 s to parse; a SCIM request needs at most ~50,000 (members)."""
    before = await snapshot(client)
    body = user_body("many@example.com", title=[{}] * MAX_JSON_CONTAINERS)  # and the body itself

    response = await client.post("/Users", json=body)

    error = assert_scim_error(response, 400, "invalidSyntax")
    assert error["detail"] == (
        f"The request body holds more than {MAX_JSON_CONTAINERS} JSON objects and arrays; "
        "send fewer values per request."
    )
    assert await snapshot(client) == before


async def test_brackets_in_strings_are_not_counted_as_objects_or_arrays(client: httpx2.AsyncClient) -> None:
    title = "{[" * 30_000  # 60,000 brackets in each of two strings
    many = [{}] * (MAX_JSON_CONTAINERS - 3)  # with the list, "schemas" and the body: exactly the limit
    body = user_body("brackets@example.com", title=title, displayName=title, nickName=many)
    response = await client.post("/Users", json=body)

    assert "JSON objects and arrays" not in response.text  # refused, if at all, by schema validation
    assert (await create_user(client, "brackets2@example.com", title=title, displayName=title))["title"] == title


async def test_depth_is_not_refused_below_the_limit_nor_for_brackets_in_strings(client: httpx2.AsyncClient) -> None:
    shallow = await client.post("/Users", json=user_body("shallow@example.com", title=nested(MAX_JSON_DEPTH - 1)))
    assert "deeper than" not in shallow.text  # refused, if at all, by schema validation
    brackets = "{[" * 40  # more brackets than levels allowed, all inside a string
    created = await create_user(client, "brackets@example.com", title=brackets)
    assert created["title"] == brackets
