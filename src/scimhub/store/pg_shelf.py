"""PostgreSQL connections kept ready between transactions (the shelf).

Checking a connection out of SQLAlchemy's asyncio pool, switching it to autocommit (our
transactions BEGIN and COMMIT on asyncpg themselves), reaching the asyncpg connection and
returning it cost four greenlet hops and the pool's events: ~70-90 µs of CPU per transaction,
as much as three statements on asyncpg. The shelf keeps up to ``keep`` connections checked out
and ready, each with its asyncpg connection at hand; a transaction takes one (a list pop) and
puts it back when it ended cleanly. Fewer are kept than the pool holds, so the pool always has a
connection for anything that checks out through the engine (migrations, ``ping``).

A connection is put back only when it is open and idle (no transaction open); one whose
transaction failed goes back to the pool (which resets it) or is invalidated; one older than
``recycle`` seconds goes back to the pool, which renews it as ``pool_recycle`` says.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(slots=True)
class Lease:
    conn: AsyncConnection
    driver: Any  # the asyncpg connection under ``conn``
    since: float  # time.monotonic() when it left the pool


class Shelf:
    def __init__(self, engine: AsyncEngine, keep: int, recycle: float) -> None:
        self.engine = engine
        self.keep = keep
        self.recycle = recycle
        self._idle: list[Lease] = []

    async def take(self) -> Lease:
        while self._idle:
            lease = self._idle.pop()
            if time.monotonic() - lease.since < self.recycle and not lease.driver.is_closed():
                return lease
            await self._release(lease)
        conn = await self.engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # the pool resets it on return
            driver: Any = (await conn.get_raw_connection()).driver_connection
        except BaseException:
            await conn.close()
            raise
        return Lease(conn, driver, time.monotonic())

    async def put_back(self, lease: Lease) -> None:
        """After a transaction that ended cleanly (committed or rolled back)."""
        if (
            len(self._idle) < self.keep
            and not lease.driver.is_closed()
            and not lease.driver.is_in_transaction()
            and time.monotonic() - lease.since < self.recycle
        ):
            self._idle.append(lease)
        else:
            await self._release(lease)

    async def discard(self, lease: Lease) -> None:
        """A connection in an unknown state: never used again."""
        try:
            await lease.conn.invalidate()
        finally:
            await lease.conn.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for lease in idle:
            await self._release(lease)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @staticmethod
    async def _release(lease: Lease) -> None:
        await lease.conn.close()
