"""The Alembic history creates exactly the tables the code declares, and upgrades are idempotent."""

from __future__ import annotations

from typing import Any
from typing import TypeVar

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from scimhub.settings import Settings
from scimhub.store.database import open_database
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from scimhub.store.tables import metadata
from tests import databases

pytestmark = pytest.mark.anyio

T = TypeVar("T")


async def test_migrated_database_matches_the_table_metadata(store: SqlStore) -> None:
    def differences(conn: Connection) -> list[Any]:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))

    assert await databases.on_connection(store, differences) == []


async def test_upgrade_twice_is_harmless_and_reports_current(blank_url: str) -> None:
    database = open_database(blank_url)
    try:
        assert not await database.is_current()
        await database.upgrade()
        await database.upgrade()
        assert await database.is_current()
    finally:
        await database.dispose()


def _has_planner_statistics(conn: Connection) -> bool:
    if conn.dialect.name == "sqlite":
        # ANALYZE creates sqlite_stat1 (without it SQLite plans by guesswork).
        tables = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars()
        return "sqlite_stat1" in set(tables)
    # PostgreSQL records when ANALYZE (or autovacuum's) last gathered a table's statistics.
    query = "SELECT coalesce(last_analyze, last_autoanalyze) FROM pg_stat_user_tables WHERE relname = 'resources'"
    return conn.exec_driver_sql(query).scalar_one() is not None


async def test_maintain_gathers_planner_statistics(blank_url: str) -> None:
    store = open_store(Settings(database_url=blank_url, database_pool_size=0))
    try:
        await store.db.upgrade()
        assert not await databases.on_connection(store, _has_planner_statistics)
        await store.maintain()
        assert await databases.on_connection(store, _has_planner_statistics)
    finally:
        await store.close()
