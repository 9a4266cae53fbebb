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

import asyncio
import contextlib
import time
import weakref
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
        # A shelf dropped without close() (a database never disposed, an app whose lifespan never
        # ran) must not leave its connections checked out of the pool for the garbage collector.
        weakref.finalize(self, _abandon, self._idle).atexit = False

    async def take(self) -> Lease:
        while self._idle:
            lease = self._idle.pop()
            if time.monotonic() - lease.since < self.recycle and not lease.driver.is_closed():
                return lease
            await self._release(lease)
        # Opened in a task of its own: a caller cancelled meanwhile (a long poll's timeout) must
        # not leave a connection checked out of the pool with no one to return it.
        opening = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_release_when_open)
            raise

    async def _open(self) -> Lease:
        conn = await self.engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")  # the pool resets it on return
            driver: Any = (await conn.get_raw_connection()).driver_connection
        except BaseException:
            await release(conn)
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
        await asyncio.shield(_invalidate(lease))

    def abandon(self) -> None:
        """Drop the kept connections of a loop that is no longer running, without waiting on it.

        Their asyncpg connections are aborted (the loop closes the sockets when it next runs; a
        closed loop refuses even that, and the socket goes with the object) and detached from the
        pool, whose books are settled: left as they were, the garbage collector would find them
        checked out of it. Callers that end a loop should dispose first (release_loop_connections)."""
        _abandon(self._idle)

    async def close(self) -> None:
        idle = list(self._idle)
        self._idle.clear()
        for lease in idle:
            await self._release(lease)

    @property
    def idle(self) -> int:
        return len(self._idle)

    @staticmethod
    async def _release(lease: Lease) -> None:
        await release(lease.conn)


def _abandon(idle: list[Lease]) -> None:
    leases = list(idle)
    idle.clear()
    for lease in leases:
        with contextlib.suppress(RuntimeError):  # its loop is closed: the socket goes with the object
            lease.driver.terminate()
        lease.conn.sync_connection.connection.detach()  # type: ignore[union-attr]


async def release(conn: AsyncConnection) -> None:
    """Return ``conn`` to the pool, to the end even when the caller is cancelled meanwhile (a
    long poll's timeout): a connection left half-returned is one the pool never sees again."""
    await asyncio.shield(conn.close())


_RETURNING: set[asyncio.Task[None]] = set()  # releases of connections whose caller was cancelled


def _release_when_open(opening: asyncio.Future[Lease]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    task = asyncio.ensure_future(release(opening.result().conn))
    _RETURNING.add(task)
    task.add_done_callback(_RETURNING.discard)


async def _invalidate(lease: Lease) -> None:
    try:
        await lease.conn.invalidate()
    finally:
        await lease.conn.close()
