"""A PostgreSQL database used on a new event loop drops what the old loop's shelf kept, without
I/O on that loop and without leaving the pool a checked-out connection for the garbage collector
(which SQLAlchemy reports as a leak). The CLI runs a loop per step. PostgreSQL only."""

from __future__ import annotations

import asyncio
import gc
import warnings

import pytest
from sqlalchemy import func
from sqlalchemy import select

from scimhub.store.database import PostgresDatabase
from scimhub.store.database import open_database
from tests import databases


async def _backend_pid(database: PostgresDatabase) -> int:
    async with database.read() as tx:
        return int((await tx.execute(select(func.pg_backend_pid()))).scalar_one())


async def _read_then_dispose(database: PostgresDatabase) -> int:
    try:
        return await _backend_pid(database)
    finally:
        await database.dispose()


def test_connections_kept_on_a_finished_loop_are_dropped_without_a_leak() -> None:
    url = databases.server_url()
    if url is None:
        pytest.skip("PostgreSQL only (SCIMHUB_TEST_DATABASE_URL)")
    databases.ensure_postgres_running()
    database = open_database(url, pool_size=3, max_overflow=5)
    assert isinstance(database, PostgresDatabase)

    old_loop = asyncio.new_event_loop()  # it stops with a connection on the shelf, not yet closed
    first = old_loop.run_until_complete(_backend_pid(database))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = asyncio.run(_read_then_dispose(database))
        old_loop.run_until_complete(asyncio.sleep(0))  # the aborted transport's close runs
        old_loop.close()
        gc.collect()

    assert first != second  # a new connection, on the new loop
