"""GET /healthz (the process is up) and GET /readyz (database reachable, migrations current)."""

from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import TypeVar

import anyio
import pytest
from alembic import command
from sqlalchemy import Connection

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store import migrate
from scimhub.store.database import SqliteDatabase
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from tests import databases
from tests.ops.support import root_client

pytestmark = pytest.mark.anyio

T = TypeVar("T")
NOT_MIGRATED = "database schema is not at the newest migration (run scimhub db upgrade)"


def _table_names(conn: Connection) -> list[str]:
    if conn.dialect.name == "sqlite":
        return list(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars())
    query = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    return list(conn.exec_driver_sql(query).scalars())


async def _probe(settings: Settings, store: SqlStore) -> tuple[tuple[int, object], tuple[int, object]]:
    app = create_app(settings, store=store)
    async with root_client(app) as client:
        live, ready = await client.get("/healthz"), await client.get("/readyz")
    assert live.headers["content-type"].startswith("application/json")
    return (live.status_code, live.json()), (ready.status_code, ready.json())


async def test_a_migrated_database_is_live_and_ready(settings: Settings, store: SqlStore) -> None:
    live, ready = await _probe(settings, store)

    assert live == (200, {"status": "ok"})
    assert ready == (200, {"status": "ready"})


async def test_probes_need_no_token_and_answer_only_get(settings: Settings, store: SqlStore) -> None:
    async with root_client(create_app(settings, store=store)) as client:
        head = await client.head("/healthz")
        post = await client.post("/readyz")

    assert head.status_code == 200  # Starlette answers HEAD wherever GET is allowed
    assert post.status_code == 405


async def test_an_empty_database_is_live_but_not_ready(blank: Settings) -> None:
    store = open_store(blank)
    try:
        live, ready = await _probe(blank, store)
    finally:
        await store.close()

    assert live == (200, {"status": "ok"})
    assert ready == (503, {"status": "unavailable", "detail": NOT_MIGRATED})


async def test_a_deleted_database_makes_readiness_fail(blank: Settings) -> None:
    store = open_store(blank)
    try:
        await store.db.upgrade()
        assert (await _probe(blank, store))[1][0] == 200
        await store.db.dispose()
        if isinstance(store.db, SqliteDatabase):
            # SQLite creates an empty file again on the next connect: a database without the schema.
            database = Path(blank.database_url.removeprefix("sqlite:///"))
            for suffix in ("", "-wal", "-shm"):
                database.with_name(database.name + suffix).unlink(missing_ok=True)
            expected = NOT_MIGRATED
        else:
            # The server answers, the database is gone.
            await anyio.to_thread.run_sync(databases.drop_database, blank.database_url)
            expected = "database unreachable: DBAPIError"

        live, (status, body) = await _probe(blank, store)
    finally:
        await store.close()

    assert live[0] == 200
    assert status == 503
    assert body == {"status": "unavailable", "detail": expected}


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_an_unreachable_database_is_not_ready(settings: Settings, tmp_path: Path) -> None:
    if databases.on_postgres():
        # A PostgreSQL server that is not there (nothing listens on the port).
        url = f"postgresql+asyncpg://postgres@127.0.0.1:{_unused_port()}/scimhub"
        error = "ConnectionRefusedError"
    else:
        url = f"sqlite:///{tmp_path / 'no-such-dir' / 'scimhub.db'}"
        error = "OperationalError"
    gone = dataclasses.replace(settings, database_url=url)
    store = open_store(gone)
    try:
        live, ready = await _probe(gone, store)
    finally:
        await store.close()

    assert live == (200, {"status": "ok"})
    assert ready == (503, {"status": "unavailable", "detail": f"database unreachable: {error}"})


async def test_a_database_behind_the_newest_migration_is_not_ready_until_upgraded(blank: Settings) -> None:
    def upgrade_to_0003(conn: Connection) -> None:
        config = migrate.alembic_config(blank.database_url)
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")

    store = open_store(blank)
    try:
        await databases.on_connection(store, upgrade_to_0003)
        before = (await _probe(blank, store))[1]
        await store.db.upgrade()
        after = (await _probe(blank, store))[1]
    finally:
        await store.close()

    assert before[0] == 503
    assert "not at the newest migration" in str(before[1])
    assert after == (200, {"status": "ready"})


async def test_readiness_does_not_write_to_the_database(blank: Settings) -> None:
    store = open_store(blank)
    try:
        await _probe(blank, store)

        # (SQLite creates the empty file on connect.) Readiness never migrates a database or adds tables.
        assert await store.db.is_current() is False
        assert await databases.on_connection(store, _table_names) == []
    finally:
        await store.close()
