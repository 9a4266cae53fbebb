"""The services tests use. Which database the suite runs on: SQLite by default, PostgreSQL when
SCIMHUB_TEST_DATABASE_URL names a server (``.ci/run`` runs the suite once on each); and the
machine's Redis, for shared rate limits.

On PostgreSQL the session gets a fresh database of its own (created, migrated once, dropped at
the end) and every test starts from empty tables.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from typing import TypeVar

import asyncpg
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url

from scimhub.store.database import SqliteDatabase
from scimhub.store.sql import SqlStore
from scimhub.store.tables import metadata

T = TypeVar("T")
ENV = "SCIMHUB_TEST_DATABASE_URL"
# Tables emptied between tests: every table, children before parents (Alembic's version table
# is not in the metadata and stays), but token_changes, whose one row the migration made (the
# triggers count on it; tests compare the count before and after).
TABLES = tuple(table.name for table in reversed(metadata.sorted_tables) if table.name != "token_changes")


def _run(coro: Coroutine[Any, Any, None]) -> None:
    """Run on a loop of its own, in a thread: callers may be inside an event loop."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


def server_url() -> str | None:
    """The PostgreSQL server to test on, or None for SQLite."""
    return os.environ.get(ENV) or None


def on_postgres() -> bool:
    return server_url() is not None


def _dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def ensure_postgres_running() -> None:
    """Start the machine's PostgreSQL cluster if it is down (CI machines run it already)."""
    if shutil.which("pg_isready") and subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"], check=False).returncode:
        versions = os.listdir("/etc/postgresql") if os.path.isdir("/etc/postgresql") else []
        for version in versions:
            subprocess.run(
                ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], check=False, timeout=60
            )


def create_database(url: str, prefix: str = "scimhub_test") -> str:
    """A new empty database on the server of ``url``; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(_dsn(url, "postgres"))
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    _run(create())
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database

    async def drop() -> None:
        conn = await asyncpg.connect(_dsn(url, "postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    _run(drop())


def wipe(url: str) -> None:
    """Empty every table (one statement; the schema stays migrated)."""

    async def truncate() -> None:
        conn = await asyncpg.connect(_dsn(url))
        try:
            # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE pays per table file.
            await conn.execute("; ".join(f"DELETE FROM {table}" for table in TABLES))  # noqa: S608 - fixed names
        finally:
            await conn.close()

    _run(truncate())


async def on_connection(store: SqlStore, work: Callable[[Connection], T]) -> T:
    """``work`` on a (sync) connection of the store's database, in a transaction."""
    if isinstance(store.db, SqliteDatabase):
        with store.db.engine.begin() as conn:
            return work(conn)
    async with store.db.engine.begin() as conn:
        return await conn.run_sync(work)


REDIS_URL = "redis://127.0.0.1:6379"
_REDIS_SERVER_ARGS = [
    *"--daemonize yes --bind 127.0.0.1 -::1 --port 6379 --appendonly no --dir /var/lib/redis".split(),
    *["--logfile", "/var/log/redis/ci.log", "--save", ""],
]


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def ensure_redis() -> str:
    """The local Redis (started without persistence when it is down); its URL. Never skipped."""
    if not _redis_answers():
        server = shutil.which("redis-server")
        assert server is not None, "redis-server is not installed; the shared rate-limit tests need it"
        subprocess.run([server, *_REDIS_SERVER_ARGS], check=True, timeout=10)
        deadline = time.monotonic() + 10
        while not _redis_answers():
            assert time.monotonic() < deadline, "redis-server did not start within 10 s"
            time.sleep(0.05)
    return REDIS_URL
