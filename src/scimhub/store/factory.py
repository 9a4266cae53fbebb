"""Build the Store for a database URL."""

from __future__ import annotations

from scimhub.settings import Settings
from scimhub.store.database import PostgresDatabase
from scimhub.store.database import SqliteDatabase
from scimhub.store.database import open_database
from scimhub.store.sql import SqlStore


def database_for(settings: Settings) -> SqliteDatabase | PostgresDatabase:
    return open_database(
        settings.database_url,
        sqlite_synchronous=settings.sqlite_synchronous,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pgbouncer=settings.database_pgbouncer,
    )


def open_store(settings: Settings) -> SqlStore:
    return SqlStore(database_for(settings), settings.query_timeout_seconds)
