"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL: see tests/databases.py),
the real ASGI app, httpx2 clients."""

from __future__ import annotations

import asyncio
import dataclasses
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
from scimhub.store.database import PostgresDatabase
from scimhub.store.database import SqliteDatabase
from scimhub.store.database import open_database
from scimhub.store.factory import open_store
from scimhub.store.prepared import Prepared
from scimhub.store.sql import SqlStore
from tests import databases

SCIM = "http://testserver/scim/v2"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """On PostgreSQL every async test runs on one event loop (held open by a session fixture), so
    the session's connection pool serves them all: asyncpg connections cannot outlive their loop,
    and a connection per transaction costs ~16 ms."""
    if not databases.on_postgres():
        return
    for item in items:
        if item.get_closest_marker("anyio") is not None and isinstance(item, pytest.Function):
            item.fixturenames.insert(0, "_postgres_pool")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database migrated by Alembic; every test gets a copy (fast, and tests the migrations)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_upgrade(f"sqlite:///{path}"))
    return path


async def _upgrade(url: str) -> None:
    database = open_database(url)
    await database.upgrade()
    await database.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """With SCIMHUB_TEST_DATABASE_URL: a fresh PostgreSQL database for this session, migrated."""
    server = databases.server_url()
    if server is None:
        yield None
        return
    databases.ensure_postgres_running()
    url = databases.create_database(server)
    try:
        asyncio.run(_upgrade(url))
        yield url
    finally:
        databases.drop_database(url)


@pytest.fixture(scope="session")
def postgres_db(postgres_database: str | None) -> PostgresDatabase | None:
    """The session's pooled PostgreSQL connections (every store of a test shares them)."""
    if postgres_database is None:
        return None
    database = open_database(postgres_database, pool_size=5, max_overflow=20)
    assert isinstance(database, PostgresDatabase)
    return database


@pytest.fixture(scope="session")
async def _postgres_pool(postgres_db: PostgresDatabase | None) -> AsyncIterator[None]:
    yield
    if postgres_db is not None:
        await postgres_db.dispose()


@pytest.fixture
def database_url(migrated_template: Path, postgres_database: str | None, tmp_path: Path) -> str:
    """An empty, migrated database for one test."""
    if postgres_database is not None:
        databases.wipe(postgres_database)
        return postgres_database
    path = tmp_path / "scimhub.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def blank_url(tmp_path: Path) -> Iterator[str]:
    """A database with no tables: a new SQLite file, or a new PostgreSQL database (dropped afterwards)."""
    server = databases.server_url()
    if server is None:
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    url = databases.create_database(server)
    try:
        yield url
    finally:
        databases.drop_database(url)


@pytest.fixture
def blank(settings: Settings, blank_url: str) -> Settings:
    """``settings`` on a database with no tables (``blank_url``)."""
    return dataclasses.replace(settings, database_url=blank_url)


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Rate limiting is off here (tests fire bursts); tests/http/test_operations.py turns it on.
    # Stores a test opens itself have no PostgreSQL pool (they may run on a loop of their own).
    return Settings(database_url=database_url, rate_limit="", database_pool_size=0)


@pytest.fixture
def store(
    settings: Settings, postgres_db: PostgresDatabase | None, request: pytest.FixtureRequest
) -> Iterator[SqlStore]:
    # An async test on PostgreSQL shares the session's pool; a sync one calls asyncio.run (a loop
    # of its own each time), so it gets a store without a pool.
    shared = postgres_db is not None and request.node.get_closest_marker("anyio") is not None
    store = SqlStore(postgres_db) if shared and postgres_db is not None else open_store(settings)
    yield store
    if isinstance(store.db, SqliteDatabase):
        store.db.close()


@pytest.fixture
def hot_statements(store: SqlStore) -> Iterator[list[str]]:
    """The SQL of every precompiled statement the store runs (hot reads and writes), in order:
    tests count and tell apart the statements a request ran."""
    seen: list[str] = []

    def observe(sql: str, params: object) -> None:
        seen.append(sql)

    store.db.observers.append(observe)  # type: ignore[attr-defined]
    yield seen
    store.db.observers.remove(observe)  # type: ignore[attr-defined]


def sql_of(store: SqlStore, statement: Prepared) -> str:
    """The text ``hot_statements`` records for ``statement`` on this store's database."""
    return statement.sql if isinstance(store.db, SqliteDatabase) else statement.pg_sql


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
