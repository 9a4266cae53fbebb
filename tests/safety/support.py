"""Helpers of the safety-rail tests: users, Entra-style deactivations, the hold through the admin API."""

from __future__ import annotations

from typing import Any

import httpx2

from tests.conftest import SCIM
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import patch

ENTRA_UA = "Microsoft.Azure.AD.SCIM"  # replaced per test where the exact value matters


def scim_client(app: object, token: str) -> httpx2.AsyncClient:
    """A SCIM client of ``app`` (a test's own app, e.g. one with hooks) with the tenant's token."""
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx2.AsyncClient(transport=transport, base_url=SCIM, headers={"Authorization": f"Bearer {token}"})


async def users(client: httpx2.AsyncClient, count: int, prefix: str = "u") -> list[str]:
    return [await create_user(client, f"{prefix}{i}@example.com", active=True) for i in range(count)]


async def entra_deactivate(client: httpx2.AsyncClient, user_id: str) -> httpx2.Response:
    """Entra's default disable: Replace with the boolean as a string (IDP_QUIRKS §2)."""
    response = await patch(client, f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "False"})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False  # SCIM stays truthful: the write is committed
    return response


async def entra_reactivate(client: httpx2.AsyncClient, user_id: str) -> httpx2.Response:
    response = await patch(client, f"/Users/{user_id}", {"op": "Replace", "path": "active", "value": "True"})
    assert response.status_code == 200, response.text
    return response


async def admin(app: object, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
    async with admin_client(app) as client:
        response = await client.request(method, path, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def add_webhook(app: object, url: str, tenant: str = "acme") -> dict[str, Any]:
    async with admin_client(app) as client:
        response = await client.post(f"/tenants/{tenant}/webhooks", json={"url": url})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created
