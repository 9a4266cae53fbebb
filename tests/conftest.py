"""Shared fixtures: a migrated SQLite database per test, the real ASGI app, httpx2 clients."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store import migrate
from scimhub.store.factory import create_engine_for
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore

SCIM = "http://testserver/scim/v2"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database migrated by Alembic; every test gets a copy (fast, and tests the migrations)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_engine_for(Settings(database_url=f"sqlite:///{path}"))
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def settings(migrated_template: Path, tmp_path: Path) -> Settings:
    path = tmp_path / "scimhub.db"
    shutil.copy(migrated_template, path)
    # Rate limiting is off here (tests fire bursts); tests/http/test_operations.py turns it on.
    return Settings(database_url=f"sqlite:///{path}", rate_limit="")


@pytest.fixture
def store(settings: Settings) -> Iterator[SqlStore]:
    store = open_store(settings)
    yield store
    store.engine.dispose()


@dataclass
class TenantAccess:
    """A tenant with a token, and a client that calls the SCIM API with it."""

    tenant_id: str
    token_id: str
    token: str
    client: httpx2.AsyncClient


async def make_tenant(store: SqlStore, app: object, name: str) -> TenantAccess:
    tenant = await tenants.create_tenant(store, name)
    record, secret = await tenants.issue_token(store, tenant, None)
    client = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=SCIM,
        headers={"Authorization": f"Bearer {secret}"},
    )
    return TenantAccess(tenant.id, record.id, secret, client)


@pytest.fixture
def app(settings: Settings, store: SqlStore) -> object:
    return create_app(settings, store=store)


@pytest.fixture
async def acme(store: SqlStore, app: object) -> AsyncIterator[TenantAccess]:
    access = await make_tenant(store, app, "acme")
    async with access.client:
        yield access


@pytest.fixture
async def globex(store: SqlStore, app: object) -> AsyncIterator[TenantAccess]:
    access = await make_tenant(store, app, "globex")
    async with access.client:
        yield access


@pytest.fixture
async def client(acme: TenantAccess) -> httpx2.AsyncClient:
    """The SCIM client of tenant ``acme``."""
    return acme.client
