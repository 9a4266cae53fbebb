"""The Alembic history creates exactly the tables the code declares, and upgrades are idempotent."""

from __future__ import annotations

from pathlib import Path

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
