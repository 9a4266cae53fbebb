"""A trailing slash names the same SCIM endpoint: answered directly, never with a redirect."""

from __future__ import annotations

import httpx2
import pytest

from tests.conftest import TenantAccess
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot

pytestmark = pytest.mark.anyio


async def test_a_resource_with_a_trailing_slash_is_the_same_resource(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "slashed")

    response = await client.get(f"/Users/{user['id']}/")

    assert response.status_code == 200, response.text
    assert response.json() == await get_ok(client, f"/Users/{user['id']}")


async def test_writes_with_a_trailing_slash_apply_without_a_redirect(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "slashed.writer")

    patched = await client.patch(
        f"/Users/{user['id']}/", json=patch_body({"op": "replace", "path": "displayName", "value": "Slash"})
    )
    deleted = await client.delete(f"/Users/{user['id']}/")

    assert patched.status_code == 200, patched.text
    assert patched.json()["displayName"] == "Slash"
    assert deleted.status_code == 204
    assert_scim_error(await client.get(f"/Users/{user['id']}"), 404)


@pytest.mark.parametrize("path", ["/Users/", "/Groups/", "/ServiceProviderConfig/", "/Schemas/", "/ResourceTypes/"])
async def test_collections_and_discovery_with_a_trailing_slash_answer_200(
    client: httpx2.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200, response.text
    assert response.json() == await get_ok(client, path.rstrip("/"))


async def test_an_unknown_id_with_a_trailing_slash_is_a_scim_404(client: httpx2.AsyncClient) -> None:
    before = await snapshot(client)

    response = await client.delete(f"/Users/{UNKNOWN_ID}/")

    assert_scim_error(response, 404)
    assert await snapshot(client) == before


async def test_without_a_token_a_trailing_slash_is_a_401_not_a_redirect(acme: TenantAccess, app: object) -> None:
    user = await create_user(acme.client, "slashed.anonymous")
    async with client_for(app, None) as anonymous:
        response = await anonymous.get(f"/Users/{user['id']}/")

    assert_scim_error(response, 401)
    assert "location" not in response.headers
