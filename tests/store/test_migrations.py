"""The Alembic history creates exactly the tables the code declares, and upgrades are idempotent."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scimhub.settings import Settings
from scimhub.store import migrate
from scimhub.store.factory import create_engine_for
from scimhub.store.tables import metadata


def test_migrated_database_matches_the_table_metadata(migrated_template: Path) -> None:
    engine = create_engine_for(Settings(database_url=f"sqlite:///{migrated_template}"))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_twice_is_harmless_and_reports_current(tmp_path: Path) -> None:
    engine = create_engine_for(Settings(database_url=f"sqlite:///{tmp_path / 'x.db'}"))
    assert not migrate.is_current(engine)
    migrate.upgrade(engine)
    migrate.upgrade(engine)
    assert migrate.is_current(engine)
    engine.dispose()


@pytest.mark.anyio
async def test_maintain_gathers_planner_statistics(migrated_template: Path, tmp_path: Path) -> None:
    import shutil

    from scimhub.store.factory import open_store

    path = tmp_path / "m.db"
    shutil.copy(migrated_template, path)
    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    await store.maintain()
    with store.engine.connect() as conn:
        tables = {row[0] for row in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "sqlite_stat1" in tables
    store.engine.dispose()
