"""Error responses (RFC 7644 §3.12): every failure is a SCIM Error body, and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.http.scim_checks import GROUP
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import assert_scim_media_type
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

JSON = {"Content-Type": "application/scim+json"}


# -- bodies that are not JSON objects -------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b'{"userName": "bjensen"', b"{userName: bjensen}", b'{"userName": "a",}', b"\xff\xfe", b"nul\x00l"],
)
async def test_malformed_json_answers_400_invalid_syntax_and_creates_nothing(
    client: httpx2.AsyncClient, content: bytes
) -> None:
    response = await client.post("/Users", content=content, headers=JSON)

    assert_scim_error(response, 400, "invalidSyntax")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


@pytest.mark.parametrize("content", [b"", b"   "])
async def test_an_empty_body_answers_400_invalid_syntax(client: httpx2.AsyncClient, content: bytes) -> None:
    assert_scim_error(await client.post("/Users", content=content, headers=JSON), 400, "invalidSyntax")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


@pytest.mark.parametrize("content", [b'[{"userName": "bjensen"}]', b'"bjensen"', b"42", b"null", b"true"])
async def test_a_body_that_is_not_an_object_answers_400_invalid_syntax(
    client: httpx2.AsyncClient, content: bytes
) -> None:
    assert_scim_error(await client.post("/Users", content=content, headers=JSON), 400, "invalidSyntax")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


async def test_a_put_or_patch_body_that_is_not_an_object_changes_nothing(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "bjensen")
    before = await snapshot(client)
    path = f"/Users/{user['id']}"

    assert_scim_error(await client.put(path, content=b"[]", headers=JSON), 400, "invalidSyntax")
    assert_scim_error(await client.patch(path, content=b"[]", headers=JSON), 400, "invalidSyntax")
    assert_scim_error(await client.patch(path, content=b"{nope", headers=JSON), 400, "invalidSyntax")

    assert await snapshot(client) == before


# -- values of the wrong type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "attrs",
    [
        {"userName": 5},
        {"userName": ["bjensen"]},
        {"userName": "bjensen", "active": "maybe"},
        {"userName": "bjensen", "active": 1},
        {"userName": "bjensen", "emails": {"value": "b@example.com"}},
        {"userName": "bjensen", "emails": "b@example.com"},
        {"userName": "bjensen", "emails": [{"value": "b@example.com", "primary": "yes"}]},
        {"userName": "bjensen", "emails": ["b@example.com"]},
        {"userName": "bjensen", "name": "Barbara Jensen"},
        {"userName": "bjensen", "name": {"givenName": 7}},
        {"userName": "bjensen", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": "x"},
    ],
)
async def test_a_value_of_the_wrong_type_answers_400_invalid_value_and_creates_nothing(
    client: httpx2.AsyncClient, attrs: dict[str, Any]
) -> None:
    response = await client.post("/Users", json={"schemas": [USER], **attrs})

    assert_scim_error(response, 400, "invalidValue")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


@pytest.mark.parametrize("attrs", [{}, {"userName": None}, {"displayName": "Babs"}])
async def test_a_missing_user_name_answers_400_invalid_value(client: httpx2.AsyncClient, attrs: dict[str, Any]) -> None:
    response = await client.post("/Users", json={"schemas": [USER], **attrs})

    body = assert_scim_error(response, 400, "invalidValue")
    assert "userName" in body["detail"]
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


@pytest.mark.parametrize("blank", ["", "   "])
async def test_a_blank_user_name_answers_400_invalid_value(client: httpx2.AsyncClient, blank: str) -> None:
    response = await client.post("/Users", json=user_body(blank))

    assert_scim_error(response, 400, "invalidValue")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


async def test_schemas_without_the_core_schema_answers_400_invalid_value(client: httpx2.AsyncClient) -> None:
    response = await client.post("/Users", json={"schemas": [GROUP], "userName": "bjensen"})

    assert_scim_error(response, 400, "invalidValue")
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


# -- media types and sizes ---------------------------------------------------------------------------


@pytest.mark.parametrize("media", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
async def test_an_unsupported_content_type_answers_415_and_creates_nothing(
    client: httpx2.AsyncClient, media: str
) -> None:
    content = b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}'

    response = await client.post("/Users", content=content, headers={"Content-Type": media})

    assert_scim_error(response, 415)
    assert (await get_ok(client, "/Users"))["totalResults"] == 0


async def test_an_unsupported_content_type_on_put_and_patch_answers_415_and_changes_nothing(
    client: httpx2.AsyncClient,
) -> None:
    user = await create_user(client, "bjensen")
    before = await snapshot(client)
    text = {"Content-Type": "text/plain"}

    assert_scim_error(await client.put(f"/Users/{user['id']}", content=b"{}", headers=text), 415)
    assert_scim_error(await client.patch(f"/Users/{user['id']}", content=b"{}", headers=text), 415)

    assert await snapshot(client) == before


@pytest.mark.parametrize(
    "media", ["application/scim+json", "application/json", "application/scim+json; charset=utf-8", "Application/JSON"]
)
async def test_scim_and_plain_json_bodies_are_both_accepted(client: httpx2.AsyncClient, media: str) -> None:
    content = b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen"}'

    response = await client.post("/Users", content=content, headers={"Content-Type": media})

    assert response.status_code == 201, response.text
    user = response.json()
    put = await client.put(f"/Users/{user['id']}", content=content, headers={"Content-Type": media})
    patch = await client.patch(
        f"/Users/{user['id']}",
        content=b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        b'"Operations":[{"op":"add","path":"nickName","value":"B"}]}',
        headers={"Content-Type": media},
    )
    assert (put.status_code, patch.status_code) == (200, 200)


@pytest.fixture
async def small(acme: TenantAccess, settings: Settings, store: SqlStore) -> AsyncIterator[httpx2.AsyncClient]:
    """Tenant acme on an app that accepts bodies of at most 1000 bytes."""
    async with client_for(app_with(settings, store, max_body_bytes=1000), acme.token) as client:
        yield client


async def test_a_body_over_the_limit_answers_413_and_creates_nothing(small: httpx2.AsyncClient) -> None:
    response = await small.post("/Users", json=user_body("bjensen", title="x" * 2000))

    assert_scim_error(response, 413)
    assert (await get_ok(small, "/Users"))["totalResults"] == 0


async def test_a_streamed_body_over_the_limit_answers_413(small: httpx2.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"bjensen","title":"'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}'

    response = await small.post("/Users", content=chunks(), headers=JSON)

    assert "content-length" not in response.request.headers
    assert_scim_error(response, 413)
    assert (await get_ok(small, "/Users"))["totalResults"] == 0


async def test_a_put_or_patch_over_the_limit_answers_413_and_changes_nothing(small: httpx2.AsyncClient) -> None:
    user = await create_user(small, "bjensen")
    before = await snapshot(small)
    path = f"/Users/{user['id']}"

    assert_scim_error(await small.put(path, json=user_body("bjensen", title="x" * 2000)), 413)
    operation = {"op": "add", "path": "title", "value": "x" * 2000}
    assert_scim_error(await small.patch(path, json=patch_body(operation)), 413)

    assert await snapshot(small) == before


async def test_a_body_under_the_limit_is_accepted(small: httpx2.AsyncClient) -> None:
    response = await small.post("/Users", json=user_body("bjensen", title="x" * 500))

    assert response.status_code == 201


# -- unknown things and methods ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", [f"/Users/{UNKNOWN_ID}", f"/Groups/{UNKNOWN_ID}", "/Users/010101001010101011001010101011"]
)
async def test_an_unknown_resource_answers_404(client: httpx2.AsyncClient, path: str) -> None:
    body = assert_scim_error(await client.get(path), 404)

    assert path.rsplit("/", 1)[1] in body["detail"]


async def test_a_user_id_is_not_found_under_groups(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "bjensen")

    assert_scim_error(await client.get(f"/Groups/{user['id']}"), 404)
    assert_scim_error(await client.delete(f"/Groups/{user['id']}"), 404)
    assert (await get_ok(client, f"/Users/{user['id']}"))["id"] == user["id"]


@pytest.mark.parametrize(
    "path",
    ["/Nope", "/users2", "/Users/abc/def", "/Me", "/bulk", "http://testserver/nope", "http://testserver/scim/v3/Users"],
)
async def test_an_unknown_path_answers_404_with_a_scim_body(client: httpx2.AsyncClient, path: str) -> None:
    assert_scim_error(await client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/Users", {"GET", "POST"}),
        ("GET", "/Bulk", {"POST"}),
        ("PUT", "/Users", {"GET", "POST"}),
        ("PATCH", "/Groups", {"GET", "POST"}),
        ("POST", f"/Users/{UNKNOWN_ID}", {"GET", "PUT", "PATCH", "DELETE"}),
        ("POST", "/ServiceProviderConfig", {"GET"}),
        ("DELETE", "/Schemas", {"GET"}),
    ],
)
async def test_an_unsupported_method_answers_405_listing_the_allowed_ones(
    client: httpx2.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    await create_user(client, "bjensen")
    before = await snapshot(client)

    response = await client.request(method, path, json=user_body("x"))

    assert_scim_error(response, 405)
    assert {m.strip() for m in response.headers["Allow"].split(",")} - {"HEAD"} == allowed
    assert await snapshot(client) == before


# -- unexpected failures ----------------------------------------------------------------------------


async def test_an_unexpected_exception_answers_500_without_internals(
    acme: TenantAccess,
    app: object,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    user = await create_user(acme.client, "bjensen")

    async def boom(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database exploded at /secret/path password=hunter2")

    monkeypatch.setattr(store, "get", boom)
    async with client_for(app, acme.token, raise_app_exceptions=False) as client:
        with caplog.at_level(logging.ERROR, logger="scimhub"):
            response = await client.get(f"/Users/{user['id']}")

    body = assert_scim_error(response, 500)
    for secret in ("exploded", "hunter2", "/secret/path", "RuntimeError", "Traceback", ".py"):
        assert secret not in response.text
    assert body["detail"]
    assert "database exploded" in caplog.text


# -- media type of responses ------------------------------------------------------------------------


async def test_every_response_with_a_body_is_application_scim_json(
    client: httpx2.AsyncClient, acme: TenantAccess, app: object
) -> None:
    user = await create_user(client, "bjensen")
    group = await create_group(client, "G", [user["id"]])
    path = f"/Users/{user['id']}"
    responses = [
        await client.post("/Users", json=user_body("kjensen")),
        await client.get(path),
        await client.get("/Users"),
        await client.get("/Groups", params={"filter": 'displayName eq "G"'}),
        await client.get(f"/Groups/{group['id']}"),
        await client.put(path, json=user_body("bjensen")),
        await client.patch(path, json=patch_body({"op": "add", "path": "title", "value": "t"})),
        await client.get("/ServiceProviderConfig"),
        await client.get("/ResourceTypes"),
        await client.get("/Schemas"),
        await client.get(f"/Users/{UNKNOWN_ID}"),
        await client.post("/Users", json=user_body("bjensen")),
        await client.get("/Users", params={"filter": "bad filter"}),
        await client.delete("/Users"),
        await client.get("/Nope"),
    ]
    async with client_for(app, None) as anonymous:
        responses.append(await anonymous.get("/Users"))

    for response in responses:
        assert response.content
        assert_scim_media_type(response)


# -- uniqueness ------------------------------------------------------------------------------------


async def test_a_duplicate_user_name_answers_409_uniqueness_and_creates_nothing(client: httpx2.AsyncClient) -> None:
    await create_user(client, "bjensen", displayName="Babs")
    before = await snapshot(client)

    response = await client.post("/Users", json=user_body("bjensen", displayName="Other"))

    body = assert_scim_error(response, 409, "uniqueness")
    assert "userName" in body["detail"]
    assert await snapshot(client) == before


@pytest.mark.parametrize("spelling", ["BJENSEN", "BJensen", "bJeNsEn"])
async def test_user_name_uniqueness_ignores_case(client: httpx2.AsyncClient, spelling: str) -> None:
    await create_user(client, "bjensen")
    before = await snapshot(client)

    assert_scim_error(await client.post("/Users", json=user_body(spelling)), 409, "uniqueness")

    assert await snapshot(client) == before


async def test_a_user_may_change_the_case_of_its_own_user_name(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "bjensen")

    response = await client.put(f"/Users/{user['id']}", json=user_body("BJensen"))

    assert response.status_code == 200
    assert response.json()["userName"] == "BJensen"
