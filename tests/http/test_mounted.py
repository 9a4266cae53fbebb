"""scimhub mounted in a host app (the README's ``Mount("/identity", app=…)``): every URL it emits
carries the mount prefix, with or without SCIMHUB_BASE_URL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio

MOUNTED = "http://host.example/identity/scim/v2"
ADMIN_TOKEN = "mounted-admin-token-0123456789abcdef"


def urls_in(value: Any) -> list[str]:
    """Every URL of the server a JSON document holds (not documentationUri and such)."""
    if isinstance(value, str):
        return [value] if value.startswith(("http://host.example", "https://id.example.com")) else []
    if isinstance(value, dict):
        return [u for v in value.values() for u in urls_in(v)]
    if isinstance(value, list):
        return [u for v in value for u in urls_in(v)]
    return []


async def _clients(
    store: SqlStore, settings: Settings, base_url: str | None
) -> AsyncIterator[tuple[httpx2.AsyncClient, httpx2.AsyncClient]]:
    scim = create_app(dataclasses.replace(settings, base_url=base_url, admin_token=ADMIN_TOKEN), store=store)
    host = Starlette(routes=[Mount("/identity", app=scim)])
    tenant = await tenants.create_tenant(store, "mounted")
    _, token = await tenants.issue_token(store, tenant, None)
    transport = httpx2.ASGITransport(app=host)
    async with (
        httpx2.AsyncClient(transport=transport, base_url=MOUNTED, headers={"Authorization": f"Bearer {token}"}) as c,
        httpx2.AsyncClient(
            transport=transport,
            base_url="http://host.example/identity/admin/v1/tenants/mounted",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ) as admin,
    ):
        yield c, admin


@pytest.fixture
async def mounted(store: SqlStore, settings: Settings) -> AsyncIterator[tuple[httpx2.AsyncClient, httpx2.AsyncClient]]:
    async for pair in _clients(store, settings, None):
        yield pair


async def _emitted_urls(client: httpx2.AsyncClient, admin: httpx2.AsyncClient) -> list[str]:
    """Create a user in a group and read everything back; every URL any answer carried."""
    seen: list[str] = []
    created = await client.post("/Users", json=user_body("mounted.user", **{ENTERPRISE: {"employeeNumber": "7"}}))
    assert created.status_code == 201, created.text
    user = created.json()
    seen += [created.headers["location"], *urls_in(user)]
    group = await client.post("/Groups", json=group_body("mounted group", [user["id"]]))
    assert group.status_code == 201, group.text
    seen += [group.headers["location"], *urls_in(group.json())]
    for path in (
        f"/Users/{user['id']}",
        f"/Groups/{group.json()['id']}",
        "/Users",
        "/Groups",
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
    ):
        seen += urls_in(await get_ok(client, path))
    searched = await client.post("/.search", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})
    seen += urls_in(searched.json())
    events = await admin.get("/events")
    assert events.status_code == 200, events.text
    seen += urls_in(events.json())
    return seen


async def test_every_url_of_a_mounted_app_carries_the_mount_prefix(
    mounted: tuple[httpx2.AsyncClient, httpx2.AsyncClient],
) -> None:
    client, admin = mounted

    seen = await _emitted_urls(client, admin)

    assert len(seen) > 20  # locations, member and group $refs, discovery, the event payloads
    assert [u for u in seen if not u.startswith(f"{MOUNTED}/")] == []
    kinds = {u.removeprefix(f"{MOUNTED}/").split("/")[0] for u in seen}
    assert {"Users", "Groups", "ServiceProviderConfig", "ResourceTypes", "Schemas"} <= kinds


async def test_a_configured_base_url_is_used_as_is_when_mounted(store: SqlStore, settings: Settings) -> None:
    public = "https://id.example.com/identity/scim/v2"
    async for client, admin in _clients(store, settings, public + "/"):
        seen = await _emitted_urls(client, admin)

        assert len(seen) > 20
        assert [u for u in seen if not u.startswith(f"{public}/")] == []


async def test_the_servers_root_path_is_kept_too(store: SqlStore, settings: Settings) -> None:
    """uvicorn --root-path /proxy (a proxy strips it): the URLs the client used carry it."""
    app = create_app(settings, store=store)
    tenant = await tenants.create_tenant(store, "proxied")
    _, token = await tenants.issue_token(store, tenant, None)
    transport = httpx2.ASGITransport(app=app, root_path="/proxy")
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://edge.example/proxy/scim/v2", headers={"Authorization": f"Bearer {token}"}
    ) as client:
        created = await client.post("/Users", json=user_body("proxied.user"))

    assert created.status_code == 201, created.text
    location = f"http://edge.example/proxy/scim/v2/Users/{created.json()['id']}"
    assert created.headers["location"] == location
    assert created.json()["meta"]["location"] == location
