"""GET /healthz (the process is up) and GET /readyz (database reachable, migrations current)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store import migrate
from scimhub.store.factory import create_engine_for
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from tests.ops.support import root_client

pytestmark = pytest.mark.anyio


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


async def test_an_empty_database_file_is_live_but_not_ready(settings: Settings, tmp_path: Path) -> None:
    empty = Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}", rate_limit="")
    store = open_store(empty)
    try:
        live, ready = await _probe(empty, store)
    finally:
        store.engine.dispose()

    assert live == (200, {"status": "ok"})
    assert ready == (
        503,
        {
            "status": "unavailable",
            "detail": "database schema is not at the newest migration (run scimhub db upgrade)",
        },
    )


async def test_a_deleted_database_file_makes_readiness_fail(settings: Settings, store: SqlStore) -> None:
    assert (await _probe(settings, store))[1][0] == 200
    store.engine.dispose()
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        path.unlink(missing_ok=True)

    live, (status, body) = await _probe(settings, store)

    assert live[0] == 200
    assert status == 503
    assert body == {
        "status": "unavailable",
        "detail": "database schema is not at the newest migration (run scimhub db upgrade)",
    }


async def test_an_unreachable_database_is_not_ready(tmp_path: Path) -> None:
    gone = Settings(database_url=f"sqlite:///{tmp_path / 'no-such-dir' / 'scimhub.db'}", rate_limit="")
    store = open_store(gone)
    try:
        live, ready = await _probe(gone, store)
    finally:
        store.engine.dispose()

    assert live == (200, {"status": "ok"})
    assert ready == (503, {"status": "unavailable", "detail": "database unreachable: OperationalError"})


async def test_a_database_behind_the_newest_migration_is_not_ready_until_upgraded(tmp_path: Path) -> None:
    behind = Settings(database_url=f"sqlite:///{tmp_path / 'behind.db'}", rate_limit="")
    engine = create_engine_for(behind)
    config = migrate.alembic_config(behind.database_url)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    engine.dispose()
    store = open_store(behind)
    try:
        before = (await _probe(behind, store))[1]
        migrate.upgrade(store.engine)
        after = (await _probe(behind, store))[1]
    finally:
        store.engine.dispose()

    assert before[0] == 503
    assert "not at the newest migration" in str(before[1])
    assert after == (200, {"status": "ready"})


async def test_readiness_does_not_write_to_the_database(settings: Settings, store: SqlStore) -> None:
    database = Path(settings.database_url.removeprefix("sqlite:///"))
    store.engine.dispose()
    database.unlink()

    await _probe(settings, store)

    # An empty file is created by SQLite on connect, but readiness never migrates it or adds tables.
    assert migrate.is_current(store.engine) is False
    with store.engine.connect() as conn:
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").all()
    assert tables == []
