"""Run Alembic migrations programmatically (``scimhub db upgrade`` and start-up).

One history serves SQLite and PostgreSQL; on PostgreSQL these run inside ``run_sync`` on an
asyncpg connection (SQLAlchemy's greenlet bridge), so no second driver is needed.
"""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy import Engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "scimhub.store:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine) -> None:
    """Migrate the database to the newest revision."""
    with engine.begin() as conn:
        upgrade_on(conn, engine.url.render_as_string(hide_password=False))


def upgrade_on(conn: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = conn
    command.upgrade(config, "head")


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (readiness)."""
    with engine.connect() as conn:
        return is_current_on(conn)


def is_current_on(conn: Connection) -> bool:
    return MigrationContext.configure(conn).get_current_revision() == head_revision()
