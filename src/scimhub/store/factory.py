"""Build the Store for a database URL."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from scimhub.store.sqlite import create_sqlite_engine


def create_engine_for(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite":
        raise ValueError(
            f"Unsupported database URL {url.render_as_string()!r}: this version of scimhub "
            "runs on SQLite (sqlite:///path/to/file.db); PostgreSQL support is planned."
        )
    return create_sqlite_engine(settings.database_url, settings.sqlite_synchronous)


def open_store(settings: Settings) -> SqlStore:
    return SqlStore(create_engine_for(settings))
