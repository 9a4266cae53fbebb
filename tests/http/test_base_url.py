"""meta.location follows the Host the client used (the base URL is cached per Host, bounded)."""

from __future__ import annotations

import httpx2
import pytest

from tests.http.scim_checks import create_user

pytestmark = pytest.mark.anyio


async def test_each_host_gets_locations_under_its_own_base_url(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "located")
    for host in ("a.example", "b.example:8443", "a.example"):
        response = await client.get(f"/Users/{user['id']}", headers={"Host": host})
        assert response.status_code == 200
        assert response.json()["meta"]["location"] == f"http://{host}/scim/v2/Users/{user['id']}"


async def test_many_hosts_do_not_grow_the_cache_without_bound(client: httpx2.AsyncClient) -> None:
    user = await create_user(client, "hosted")
    for i in range(300):
        response = await client.get(f"/Users/{user['id']}", headers={"Host": f"h{i}.example"})
        assert response.json()["meta"]["location"].startswith(f"http://h{i}.example/scim/v2/")
    runtime = client._transport.app.state.scimhub  # type: ignore[attr-defined]
    assert len(runtime._base_urls) <= 256
