"""U+0000 in a string value: refused with 400 invalidValue on every database (PostgreSQL text and
jsonb cannot hold it, so accepting it on SQLite only would make the two databases disagree)."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "attrs",
    [
        {"userName": "a\x00b"},
        {"userName": "ok", "title": "x\x00y"},
        {"userName": "ok", "emails": [{"value": "a\x00@example.com"}]},
        {"userName": "ok", "name": {"familyName": "\x00"}},
    ],
    ids=["userName", "title", "emails.value", "name.familyName"],
)
async def test_a_create_with_a_nul_character_is_refused(client: httpx2.AsyncClient, attrs: dict[str, object]) -> None:
    before = await snapshot(client)
    response = await client.post("/Users", json={**user_body("placeholder"), **attrs})
    error = assert_scim_error(response, 400, "invalidValue")
    assert "U+0000" in error["detail"]
    assert await snapshot(client) == before


async def test_a_patch_bringing_a_nul_character_is_refused_and_changes_nothing(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "nul-target")
    before = await snapshot(client)
    operation = {"op": "replace", "path": "displayName", "value": "Ada\x00"}
    response = await client.patch(f"/Users/{user['id']}", json=patch_body(operation))
    assert_scim_error(response, 400, "invalidValue")
    assert await snapshot(client) == before


async def test_a_filter_comparing_with_a_nul_character_is_refused(client: httpx2.AsyncClient) -> None:
    await create_user(client, "plain")
    for text in ('userName eq "pl\\u0000ain"', 'title ne "\\u0000"', 'emails[value co "\\u0000"]'):
        response = await client.get("/Users", params={"filter": text})
        error = assert_scim_error(response, 400, "invalidFilter")
        assert "U+0000" in error["detail"], text
