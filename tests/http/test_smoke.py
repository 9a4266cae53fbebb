from __future__ import annotations

import httpx2
import pytest

pytestmark = pytest.mark.anyio


async def test_create_then_get_user(client: httpx2.AsyncClient) -> None:
    created = await client.post("/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                               "userName": "bjensen"})
    assert created.status_code == 201
    fetched = await client.get(f"/Users/{created.json()['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["userName"] == "bjensen"
