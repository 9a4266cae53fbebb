"""PostgreSQL transactions take their connection from the shelf (store/pg_shelf.py): ready
connections kept between transactions, never one in an unknown state, never more than the pool
can spare. PostgreSQL only (SQLite has no pool)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from scimhub.store.database import PostgresDatabase
from scimhub.store.database import open_database
from scimhub.store.tables import tenants

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg(postgres_database: str | None) -> AsyncIterator[PostgresDatabase]:
    if postgres_database is None:
        pytest.skip("PostgreSQL only (SCIMHUB_TEST_DATABASE_URL)")
    database = open_database(postgres_database, pool_size=3, max_overflow=5)
    assert isinstance(database, PostgresDatabase)
    try:
        yield database
    finally:
        await database.dispose()


async def _backend_pid(database: PostgresDatabase) -> int:
    async with database.read() as tx:
        return int((await tx.execute(tenants.select().with_only_columns(_pid()))).scalar_one())


def _pid() -> object:
    from sqlalchemy import func

    return func.pg_backend_pid()


async def test_consecutive_transactions_reuse_one_ready_connection(pg: PostgresDatabase) -> None:
    first = await _backend_pid(pg)
    second = await _backend_pid(pg)
    async with pg.write() as tx:
        await tx.execute(tenants.select().limit(1))

    assert first == second
    assert pg.shelf.idle == 1


async def test_a_failed_transaction_does_not_put_its_connection_back_on_the_shelf(pg: PostgresDatabase) -> None:
    before = await _backend_pid(pg)
    with pytest.raises(RuntimeError, match="boom"):
        async with pg.write() as tx:
            await tx.execute(tenants.select().limit(1))
            raise RuntimeError("boom")

    assert pg.shelf.idle == 0
    async with pg.write() as tx:  # the next transaction starts clean (no aborted one left open)
        assert (await tx.execute(tenants.select().with_only_columns(_pid()))).scalar_one() > 0
        assert tx._driver.is_in_transaction()  # our BEGIN, on a connection with none left over
    assert pg.shelf.idle == 1
    assert before > 0


async def test_a_connection_whose_backend_was_terminated_is_replaced(pg: PostgresDatabase) -> None:
    victim = await _backend_pid(pg)
    other = open_database(pg.url(), pool_size=0)
    assert isinstance(other, PostgresDatabase)
    try:
        async with other.write() as tx:
            await tx.execute(tenants.select().with_only_columns(_terminate(victim)))
    finally:
        await other.dispose()
    await asyncio.sleep(0.05)

    for _ in range(2):  # the first may find the dead connection (as a pooled one would); never twice
        try:
            replaced = await _backend_pid(pg)
            break
        except Exception:  # noqa: BLE001, S112 - asyncpg's connection error; the next attempt must work
            continue
    assert replaced != victim


def _terminate(pid: int) -> object:
    from sqlalchemy import func

    return func.pg_terminate_backend(pid)


async def test_the_shelf_keeps_fewer_connections_than_the_pool_holds(pg: PostgresDatabase) -> None:
    started = asyncio.Event()

    async def hold() -> None:
        async with pg.read() as tx:
            await tx.execute(tenants.select().limit(1))
            await started.wait()

    tasks = [asyncio.create_task(hold()) for _ in range(6)]
    await asyncio.sleep(0.2)
    started.set()
    await asyncio.gather(*tasks)

    assert pg.shelf.idle == pg.shelf.keep == 2
    async with pg.engine.connect() as conn:  # the pool still has one for the engine's own users
        await conn.exec_driver_sql("SELECT 1")


async def test_dispose_closes_the_shelved_connections(pg: PostgresDatabase) -> None:
    await _backend_pid(pg)
    lease = pg.shelf._idle[0]

    await pg.dispose()

    assert lease.driver.is_closed()


async def test_a_cancelled_caller_still_returns_its_connection(pg: PostgresDatabase) -> None:
    # A long poll's timeout cancels its task while the connection goes back: it must get there.
    async def read_forever() -> None:
        async with pg.read() as tx:
            await tx.execute(tenants.select().limit(1))
            await asyncio.sleep(10)

    task = asyncio.create_task(read_forever())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    pool = pg.engine.sync_engine.pool
    assert pool.checkedout() == 0  # type: ignore[attr-defined]
