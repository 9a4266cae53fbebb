"""The Alembic history creates exactly the tables the code declares, and upgrades are idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from typing import TypeVar

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy import create_engine

from scimhub.settings import Settings
from scimhub.store.database import open_database
from scimhub.store.factory import open_store
from scimhub.store.migrate import alembic_config
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


def test_0007_keeps_the_outbox_and_audit_rows_and_drops_their_extra_indexes(tmp_path: Path) -> None:
    """SQLite rebuilds the events table to drop its unique index: every row must come through."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(str(engine.url))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0006")
        conn.exec_driver_sql("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'acme', '2026-01-01')")
        conn.exec_driver_sql("INSERT INTO tenant_event_seq (tenant_id, last_seq) VALUES ('t1', 2)")
        conn.exec_driver_sql(
            "INSERT INTO events (tenant_id, seq, id, type, resource_type, resource_id, occurred_at, payload)"
            " VALUES (?, ?, ?, 'user.created', 'User', ?, '2026-01-01', '{}')",
            [("t1", 1, "e1", "u1"), ("t1", 2, "e2", "u2")],
        )
        conn.exec_driver_sql(
            "INSERT INTO audit_log (tenant_id, occurred_at, method, path, status)"
            " VALUES ('t1', '2026-01-01', 'POST', '/Users', 201)"
        )
        command.upgrade(config, "head")
        assert conn.exec_driver_sql("SELECT tenant_id, seq, id FROM events ORDER BY seq").all() == [
            ("t1", 1, "e1"),
            ("t1", 2, "e2"),
        ]
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_log").scalar() == 1
        indexes = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert not {"ix_events_occurred_at", "ix_audit_log_occurred_at"} & indexes
        assert _indexed_columns(conn, "events") == [["tenant_id", "seq"]]  # the primary key's alone
        command.downgrade(config, "0006")  # and back: the indexes return, the rows stay
        assert sorted(_indexed_columns(conn, "events")) == [["id"], ["occurred_at"], ["tenant_id", "seq"]]
        assert conn.exec_driver_sql("SELECT count(*) FROM events").scalar() == 2
    engine.dispose()


def _indexed_columns(conn: Connection, table: str) -> list[list[str]]:
    return [
        [column[2] for column in conn.exec_driver_sql(f"PRAGMA index_info('{index[1]}')")]
        for index in conn.exec_driver_sql(f"PRAGMA index_list('{table}')")
    ]


def test_0010_adds_tenant_schemas_and_keeps_the_request_log(tmp_path: Path) -> None:
    """A new table and a nullable column: no row is rewritten; entries logged before read back with
    no ignored attributes; downgrade drops both and keeps the rows."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(str(engine.url))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0009")
        conn.exec_driver_sql("INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'acme', '2026-01-01')")
        conn.exec_driver_sql(
            "INSERT INTO request_log (tenant_id, at, request_id, method, path, status, latency_ms)"
            " VALUES ('t1', '2026-01-01', 'r1', 'GET', '/scim/v2/Users', 200, 1)"
        )
        command.upgrade(config, "head")
        assert conn.exec_driver_sql("SELECT request_id, ignored FROM request_log").all() == [("r1", None)]
        assert conn.exec_driver_sql("SELECT count(*) FROM tenant_schemas").scalar() == 0
        command.downgrade(config, "0009")
        assert conn.exec_driver_sql("SELECT request_id FROM request_log").all() == [("r1",)]
        tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "tenant_schemas" not in tables
    engine.dispose()
