"""A PostgreSQL database per benchmark run: created on the server, dropped afterwards (asyncpg).

    url = await create_database("postgresql://postgres@127.0.0.1:5432/postgres", "scimhub_bench_10000")

The server URL names the maintenance database (``postgres``) the CREATE and DROP run on.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def dsn(url: str, database: str | None = None) -> str:
    """``url`` (any SQLAlchemy spelling of a PostgreSQL URL) as a plain libpq/asyncpg DSN."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def database_name(url: str) -> str:
    return make_url(url).database or ""


def is_local(url: str) -> bool:
    """Whether the server runs on this machine (so its processes' CPU can be read from /proc)."""
    return (make_url(url).host or "localhost") in ("127.0.0.1", "localhost", "::1")


async def connect(url: str) -> Any:
    """An asyncpg connection (asyncpg.Connection) to a plain DSN."""
    import asyncpg  # type: ignore[import-untyped]  # scimhub[postgres]; only needed with --db postgresql

    return await asyncpg.connect(url, timeout=10)


async def unavailable(server_url: str) -> str | None:
    """Why no benchmark database can be made on ``server_url`` (None when one can)."""
    from scimhub.store.database import open_database

    try:
        open_database(dsn(server_url))  # scimhub's own answer to a PostgreSQL URL
        conn = await connect(dsn(server_url))
    except Exception as exc:  # noqa: BLE001 - ValueError, ImportError, OSError, asyncpg's own errors
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def create_database(server_url: str, prefix: str) -> str:
    """A new empty database on the server; returns its URL (postgresql://, as scimhub takes it)."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    conn = await connect(dsn(server_url))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return dsn(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    conn = await connect(dsn(server_url))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database_name(url)}" WITH (FORCE)')
    finally:
        await conn.close()


async def analyze(url: str) -> None:
    """Fresh planner statistics (autovacuum would take them within a minute or so of a bulk load;
    taking them now keeps plans from changing in the middle of a measured row)."""
    conn = await connect(dsn(url))
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
