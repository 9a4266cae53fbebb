"""The console through the real ASGI app (httpx2), signed in or not."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2
import pytest
from starlette.applications import Starlette

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.conftest import make_tenant

ADMIN_TOKEN = "console-admin-token-0123456789abcdef"
BASE = "http://testserver"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


@dataclass
class Console:
    client: httpx2.AsyncClient
    csrf: str = ""

    async def sign_in(self, token: str = ADMIN_TOKEN) -> httpx2.Response:
        page = await self.client.get("/console/sign-in")
        response = await self.client.post("/console/sign-in", data={"csrf": csrf_of(page.text), "token": token})
        if response.status_code == 303:
            self.csrf = csrf_of((await self.client.get("/console/")).text)
        return response

    async def post(self, path: str, **fields: str) -> httpx2.Response:
        return await self.client.post(path, data={"csrf": self.csrf, **fields})


@pytest.fixture
def console_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, admin_token=ADMIN_TOKEN)


@pytest.fixture
def console_app(console_settings: Settings, store: SqlStore) -> Starlette:
    return create_app(console_settings, store=store)


@pytest.fixture
async def anonymous(console_app: Starlette) -> AsyncIterator[Console]:
    """A client of the console app that has not signed in."""
    async with console_app.router.lifespan_context(console_app):
        transport = httpx2.ASGITransport(app=console_app)  # type: ignore[arg-type]
        async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Console(client)


@pytest.fixture
async def console(anonymous: Console) -> Console:
    """Signed in."""
    response = await anonymous.sign_in()
    assert response.status_code == 303, response.text
    return anonymous


@pytest.fixture
async def tenant(store: SqlStore, console_app: Starlette) -> AsyncIterator[TenantAccess]:
    """Tenant ``acme`` with a SCIM token, and a SCIM client on the console's app."""
    access = await make_tenant(store, console_app, "acme")
    async with access.client:
        yield access
