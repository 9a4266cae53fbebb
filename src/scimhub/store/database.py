"""The execution layer under every SQL store: transactions and statements on SQLite or PostgreSQL.

Stores are written once against ``Tx`` (await ``execute`` for Core statements, ``rows`` and
``run_many`` for prepared hot statements) and ``Database`` (``read``/``write`` transactions).

- SQLite: sync SQLAlchemy Core on the event loop (statements are microsecond probes),
  one writer per process (an asyncio lock) and BEGIN IMMEDIATE across processes; hot statements
  run precompiled on the sqlite3 driver.
- PostgreSQL: SQLAlchemy's asyncio layer on asyncpg. Transactions run concurrently; row locks
  serialise what must be serial (FOR UPDATE on a resource's read-modify-write, the tenant's event
  counter row in the outbox), so several scimhub processes can share one database.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from contextlib import AbstractContextManager
from contextlib import asynccontextmanager
from contextlib import nullcontext
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

import orjson
from sqlalchemy import Engine
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.engine import CursorResult
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import Executable

from scimhub.store import migrate
from scimhub.store.dialects import POSTGRES
from scimhub.store.dialects import SQLITE
from scimhub.store.dialects import JsonDialect
from scimhub.store.fast_reads import FastReads
from scimhub.store.pg_shelf import Shelf
from scimhub.store.pg_shelf import release
from scimhub.store.prepared import Observer
from scimhub.store.prepared import Prepared
from scimhub.store.prepared import compile_once
from scimhub.store.prepared import parameters
from scimhub.store.sqlite import Scanner
from scimhub.store.sqlite import ScanStop
from scimhub.store.sqlite import Writer
from scimhub.store.sqlite import create_sqlite_engine

if TYPE_CHECKING:  # the asyncio layer needs greenlet: the `postgres` extra, not a SQLite install
    from sqlalchemy.ext.asyncio import AsyncConnection
    from sqlalchemy.ext.asyncio import AsyncEngine

Rows = Sequence[Sequence[Any]]


class DeadlineExceeded(Exception):
    """A read started with ``Database.scan`` ran past its deadline and was stopped."""


class Tx(Protocol):
    """One transaction (or, for ``Database.fast``, one statement)."""

    async def execute(self, stmt: Executable, params: Any = None) -> CursorResult[*tuple[Any, ...]]: ...

    async def rows(self, statement: Prepared, **params: Any) -> Rows: ...

    async def insert(self, statement: Prepared, **params: Any) -> int:
        """An INSERT of one row into a table whose primary key is an integer: the new row's key
        (SQLite: the rowid the driver reports; PostgreSQL: the statement's ``RETURNING``)."""
        ...

    async def insert_or_skip(self, statement: Prepared, **params: Any) -> int | None:
        """``insert`` of a statement that may do nothing (ON CONFLICT DO NOTHING): the new row's
        key, or None when it inserted no row."""
        ...

    async def run_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None: ...

    def chunks(self, statement: Prepared, size: int, **params: Any) -> AsyncIterator[Rows]:
        """The rows of a prepared statement, ``size`` at a time, read as they are asked for
        (SQLite: ``fetchmany`` on the transaction's connection; PostgreSQL: an asyncpg cursor)."""
        ...


class ScanTx(Protocol):
    """A read transaction for statements that may scan (``Database.scan``)."""

    async def all(self, stmt: Executable) -> Rows:
        """Every row of ``stmt``, as tuples in its column order."""
        ...


class Database(Protocol):
    name: str  # "sqlite" or "postgresql"
    json: JsonDialect
    # Whether the store fills resources.doc_keys (the GIN-indexed comparison-key document).
    keeps_doc_keys: bool

    def insert(self, table: Table) -> Any:
        """INSERT with this database's ON CONFLICT clauses."""
        ...

    def read(self) -> AbstractAsyncContextManager[Tx]:
        """A read-only transaction: one snapshot for a count and its page."""
        ...

    def write(self) -> AbstractAsyncContextManager[Tx]: ...

    def deferring(self) -> AbstractContextManager[list[asyncio.Future[None]]]:
        """Write transactions begun in this context may return before they commit; the list
        holds what to await for each (see ``sqlite.Writer.deferring``). PostgreSQL commits each
        one before it returns: the list stays empty."""
        ...

    def scan(self, deadline: float | None) -> AbstractAsyncContextManager[ScanTx]:
        """A read like ``read()`` whose statements may scan: off the event loop, stopped with
        ``DeadlineExceeded`` once ``time.monotonic()`` passes ``deadline`` (None: no limit)."""
        ...

    async def fast(self, statement: Prepared, **params: Any) -> Rows:
        """One hot read statement outside any transaction (sees everything committed)."""
        ...

    async def ping(self) -> None: ...

    async def is_current(self) -> bool: ...

    async def upgrade(self) -> list[str]:
        """Migrate to the newest revision; the revisions applied, oldest first."""
        ...

    async def dispose(self) -> None: ...

    def url(self) -> str: ...


# -- SQLite ------------------------------------------------------------------------------------
class _SqliteWrite(AbstractAsyncContextManager["SqliteTx"]):
    """``SqliteDatabase.write``: the writer's unit of work as a ``SqliteTx`` (a class, as
    ``sqlite._Unit`` is: every write enters one)."""

    __slots__ = ("_observers", "_unit")

    def __init__(self, unit: AbstractAsyncContextManager[Connection], observers: list[Observer]) -> None:
        self._unit = unit
        self._observers = observers

    async def __aenter__(self) -> SqliteTx:
        return SqliteTx(await self._unit.__aenter__(), self._observers)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> bool | None:
        return await self._unit.__aexit__(exc_type, exc, tb)


class SqliteTx:
    def __init__(self, conn: Connection, observers: list[Observer] | None = None) -> None:
        self.conn = conn
        self._raw: Any = conn.connection.driver_connection
        self._observers = observers or []

    async def execute(self, stmt: Executable, params: Any = None) -> CursorResult[*tuple[Any, ...]]:
        return self.conn.execute(stmt, params)

    async def rows(self, statement: Prepared, **params: Any) -> Rows:
        [values] = parameters(statement.sql, statement.names, [params], self._observers)
        return list(self._raw.execute(statement.sql, values).fetchall())

    async def insert(self, statement: Prepared, **params: Any) -> int:
        [values] = parameters(statement.sql, statement.names, [params], self._observers)
        pk: int | None = self._raw.execute(statement.sql, values).lastrowid
        assert pk is not None
        return pk

    async def insert_or_skip(self, statement: Prepared, **params: Any) -> int | None:
        [values] = parameters(statement.sql, statement.names, [params], self._observers)
        cursor = self._raw.execute(statement.sql, values)
        # lastrowid keeps the connection's previous insert when this one did nothing
        return cursor.lastrowid if cursor.rowcount == 1 else None

    async def run_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        self._raw.executemany(statement.sql, parameters(statement.sql, statement.names, rows, self._observers))

    async def chunks(self, statement: Prepared, size: int, **params: Any) -> AsyncIterator[Rows]:
        [values] = parameters(statement.sql, statement.names, [params], self._observers)
        cursor = self._raw.execute(statement.sql, values)
        try:
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()


class SqliteScanTx:
    """A read transaction whose statements are compiled and run in a scan thread (``sqlite.Scanner``)."""

    def __init__(self, raw: sqlite3.Connection, scanner: Scanner, stop: ScanStop, observers: list[Observer]) -> None:
        self._raw = raw
        self._scanner = scanner
        self._stop = stop
        self._observers = observers

    async def all(self, stmt: Executable) -> Rows:
        return await self._scanner.run(self._stop, self._raw, self._run, stmt)

    def _run(self, stmt: Executable) -> Rows:
        sql, values = compile_once(stmt, postgresql=False)
        if self._stop():  # past the deadline while compiling, or cancelled
            raise sqlite3.OperationalError("interrupted")
        _observe(self._observers, sql, values)
        return self._raw.execute(sql, values).fetchall()


class SqliteDatabase:
    name = "sqlite"
    json: JsonDialect = SQLITE
    keeps_doc_keys = False

    def __init__(self, engine: Engine, synchronous: str = "NORMAL") -> None:
        self.engine = engine  # reads and upkeep
        self.writer = Writer(engine.url.render_as_string(hide_password=False), synchronous)
        self.fast_reads = FastReads(engine.url.database or "")
        self.scanner = Scanner(engine.url.render_as_string(hide_password=False), synchronous)
        # Called with (sql, parameters) before each hot read (tests explain the query plans).
        self.observers: list[Observer] = self.fast_reads.observers

    @property
    def engines(self) -> tuple[Engine, Engine]:
        """The readers' engine and the writer's (tests watch the statements of both)."""
        return self.engine, self.writer.engine

    def exclusive(self) -> AbstractAsyncContextManager[None]:
        """The process's writer lock, with no write transaction open (ANALYZE on another connection)."""
        return self.writer.exclusive()

    def insert(self, table: Table) -> Any:
        return sqlite_insert(table)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteTx]:
        with self.engine.connect() as conn:
            with conn.begin():
                yield SqliteTx(conn)

    def write(self) -> AbstractAsyncContextManager[SqliteTx]:
        return _SqliteWrite(self.writer.unit(), self.observers)

    def deferring(self) -> AbstractContextManager[list[asyncio.Future[None]]]:
        return self.writer.deferring()

    @asynccontextmanager
    async def scan(self, deadline: float | None) -> AsyncIterator[SqliteScanTx]:
        stop = ScanStop(deadline)
        with self.scanner.engine.connect() as conn:
            raw: sqlite3.Connection = conn.connection.driver_connection  # type: ignore[assignment]
            stop.install(raw)
            try:
                with conn.begin():  # BEGIN on the loop (no I/O: the snapshot starts at the first read)
                    yield SqliteScanTx(raw, self.scanner, stop, self.observers)
            except (DBAPIError, sqlite3.OperationalError) as exc:
                if _interrupted(exc):
                    raise DeadlineExceeded() from exc
                raise
            finally:
                stop.remove(raw)

    async def fast(self, statement: Prepared, **params: Any) -> Rows:
        # Between transactions the writer's connection reads what is committed, from a page cache
        # that its own writes keep current; a reader's cache is emptied by every write (SQLite
        # drops it when the WAL changed), so a read right after a write took ~60 µs, not ~15.
        if self.writer.idle_connection() is not None:
            return await self.peek(statement, **params)
        return self.fast_reads.rows(statement, **params)

    async def peek(self, statement: Prepared, **params: Any) -> Rows:
        """One read statement on the writer's connection without taking the writer: it sees what
        the next unit of work will (the open transaction's units included), and its page cache
        is current, where a reader's is not after a write (~15 µs against ~60 µs for an index
        probe). ``fast`` reads here between transactions."""
        return self.writer.peek(statement.sql, parameters(statement.sql, statement.names, [params], self.observers)[0])

    async def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    async def is_current(self) -> bool:
        with self.engine.connect() as conn:
            return migrate.is_current_on(conn)

    async def upgrade(self) -> list[str]:
        return migrate.upgrade(self.engine)

    async def dispose(self) -> None:
        self.close()

    def close(self) -> None:
        self.scanner.close()
        self.fast_reads.close()
        self.writer.close()
        self.engine.dispose()

    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=False)


def _observe(observers: list[Observer], sql: str, values: list[Any]) -> None:
    for observe in observers:
        observe(sql, values)


def _interrupted(exc: BaseException) -> bool:
    """SQLite's error for a statement its progress handler stopped."""
    error = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(error, sqlite3.OperationalError) and "interrupted" in str(error)


# -- PostgreSQL --------------------------------------------------------------------------------
class PostgresTx:
    """A transaction we BEGIN and COMMIT on the asyncpg connection ourselves (SQLAlchemy's side of
    the connection is in autocommit mode, so it never starts one of its own): Core statements run
    through SQLAlchemy, the prepared hot statements straight on asyncpg, both inside it."""

    def __init__(self, conn: AsyncConnection, driver: Any, observers: list[Observer]) -> None:
        self.conn = conn
        self._driver = driver
        self._observers = observers

    async def execute(self, stmt: Executable, params: Any = None) -> CursorResult[*tuple[Any, ...]]:
        return await self.conn.execute(stmt, params)

    async def rows(self, statement: Prepared, **params: Any) -> Rows:
        [values] = parameters(statement.pg_sql, statement.pg_names, [params], self._observers)
        return await self._driver.fetch(statement.pg_sql, *values)  # type: ignore[no-any-return]

    async def insert(self, statement: Prepared, **params: Any) -> int:
        [values] = parameters(statement.pg_sql, statement.pg_names, [params], self._observers)
        return await self._driver.fetchval(statement.pg_sql, *values)  # type: ignore[no-any-return]

    async def insert_or_skip(self, statement: Prepared, **params: Any) -> int | None:
        [values] = parameters(statement.pg_sql, statement.pg_names, [params], self._observers)
        return await self._driver.fetchval(statement.pg_sql, *values)  # type: ignore[no-any-return]

    async def run_many(self, statement: Prepared, rows: list[dict[str, Any]]) -> None:
        values = parameters(statement.pg_sql, statement.pg_names, rows, self._observers)
        await self._driver.executemany(statement.pg_sql, values)

    async def chunks(self, statement: Prepared, size: int, **params: Any) -> AsyncIterator[Rows]:
        [values] = parameters(statement.pg_sql, statement.pg_names, [params], self._observers)
        cursor = await self._driver.cursor(statement.pg_sql, *values)  # in the transaction: a portal
        while rows := await cursor.fetch(size):
            yield rows


class PostgresScanTx:
    """A read transaction whose statements are compiled in a thread and run on asyncpg, each with
    what is left before the deadline as its ``statement_timeout`` (then PostgreSQL cancels it:
    SQLSTATE 57014)."""

    def __init__(self, driver: Any, deadline: float | None, observers: list[Observer]) -> None:
        self._driver = driver
        self._deadline = deadline
        self._observers = observers

    async def all(self, stmt: Executable) -> Rows:
        sql, values = await asyncio.to_thread(compile_once, stmt, postgresql=True)
        _observe(self._observers, sql, values)
        if self._deadline is not None:
            left_ms = int((self._deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise DeadlineExceeded()
            await self._driver.execute(f"SET LOCAL statement_timeout = {left_ms}")  # an int: nothing to quote
        return await self._driver.fetch(sql, *values)  # type: ignore[no-any-return]


_QUERY_CANCELED = "57014"


def _cancelled(exc: BaseException) -> bool:
    """PostgreSQL's error for a statement past its statement_timeout, raised by asyncpg or wrapped."""
    code = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code == _QUERY_CANCELED


@asynccontextmanager
async def _transaction(shelf: Shelf, begin: str, observers: list[Observer]) -> AsyncIterator[PostgresTx]:
    lease = await shelf.take()
    try:
        await lease.driver.execute(begin)
    except BaseException:
        await shelf.discard(lease)
        raise
    try:
        yield PostgresTx(lease.conn, lease.driver, observers)
    except BaseException:
        try:
            await lease.driver.execute("ROLLBACK")
        except BaseException:  # noqa: BLE001 - the connection is broken (or the rollback cancelled): never pool it again
            await shelf.discard(lease)
        else:
            await release(lease.conn)  # back to the pool, which resets it, not to the shelf
        raise
    try:
        await lease.driver.execute("COMMIT")
    except BaseException:
        await shelf.discard(lease)
        raise
    await shelf.put_back(lease)


class PostgresDatabase:
    name = "postgresql"
    json: JsonDialect = POSTGRES
    keeps_doc_keys = True

    def __init__(self, make_engine: _PostgresEngineFactory) -> None:
        self._make_engine = make_engine
        # Called with (sql, parameters) before each prepared statement (tests explain the plans).
        self.observers: list[Observer] = []
        self._engine: AsyncEngine | None = None
        self._shelf: Shelf | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def shelf(self) -> Shelf:
        """Connections ready for the next transaction (see ``pg_shelf``), of the running loop's engine."""
        engine = self.engine
        if self._shelf is None or self._shelf.engine is not engine:
            self._shelf = Shelf(engine, self._make_engine.keep, self._make_engine.recycle)
        return self._shelf

    @property
    def engine(self) -> AsyncEngine:
        """The engine of the running event loop: asyncpg connections belong to the loop that
        opened them, and the CLI runs one loop per command step before uvicorn runs its own."""
        loop = asyncio.get_running_loop()
        if self._engine is None or self._loop is not loop:
            if self._engine is not None:
                if self._shelf is not None:
                    self._shelf.abandon()  # its connections are the old loop's too
                    self._shelf = None
                self._engine.sync_engine.dispose(close=False)  # the old loop's connections are unusable here
            self._engine, self._loop = self._make_engine(), loop
            _OPEN.add(self)
        return self._engine

    def insert(self, table: Table) -> Any:
        return postgresql_insert(table)

    def read(self) -> AbstractAsyncContextManager[PostgresTx]:
        # One snapshot (a count and its page agree), and no write locks.
        return _transaction(self.shelf, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", self.observers)

    def write(self) -> AbstractAsyncContextManager[PostgresTx]:
        return _transaction(self.shelf, "BEGIN", self.observers)  # READ COMMITTED; row locks order writers

    def deferring(self) -> AbstractContextManager[list[asyncio.Future[None]]]:
        return nullcontext([])  # every transaction commits before it returns

    @asynccontextmanager
    async def scan(self, deadline: float | None) -> AsyncIterator[PostgresScanTx]:
        try:
            async with self.read() as tx:
                yield PostgresScanTx(tx._driver, deadline, self.observers)
        except Exception as exc:
            if _cancelled(exc):
                raise DeadlineExceeded() from exc
            raise

    async def fast(self, statement: Prepared, **params: Any) -> Rows:
        if self._make_engine.pgbouncer:
            # Behind PgBouncer in transaction mode a statement outside a transaction may have its
            # prepare and execute reach different server connections.
            async with self.read() as tx:
                return await tx.rows(statement, **params)
        shelf = self.shelf
        lease = await shelf.take()  # one statement, one round trip: no BEGIN
        try:
            rows = await PostgresTx(lease.conn, lease.driver, self.observers).rows(statement, **params)
        except BaseException:
            await release(lease.conn)  # back to the pool, which resets it
            raise
        await shelf.put_back(lease)
        return rows

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def is_current(self) -> bool:
        async with self.engine.connect() as conn:
            return await conn.run_sync(migrate.is_current_on)

    async def upgrade(self) -> list[str]:
        async with self.engine.connect() as conn:
            applied = await conn.run_sync(migrate.upgrade_on, self.url())
            await conn.commit()
        return applied

    async def dispose(self) -> None:
        if self._engine is not None and self._loop is asyncio.get_running_loop():
            if self._shelf is not None:
                await self._shelf.close()
            await self._engine.dispose()
        elif self._shelf is not None:
            self._shelf.abandon()  # another loop's connections: no I/O on them from here
        self._shelf = None
        self._engine = None
        _OPEN.discard(self)

    def url(self) -> str:
        return self._make_engine.url


# Databases with an engine open on some loop (strong references: a database whose last user is
# gone must still have its connections closed on their loop).
_OPEN: set[PostgresDatabase] = set()


async def release_loop_connections() -> None:
    """Close every PostgreSQL connection opened on the running loop (call before the loop ends:
    the CLI runs one loop per step, and a connection cannot move to another loop)."""
    loop = asyncio.get_running_loop()
    for database in list(_OPEN):
        if database._loop is loop:
            await database.dispose()


def postgres_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the asyncpg driver (the one scimhub supports)."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1) if url.startswith("postgres://") else url)
    if parsed.drivername in ("postgresql", "postgresql+asyncpg"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"Unsupported PostgreSQL driver {parsed.drivername!r}: use postgresql+asyncpg://")


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _statement_name() -> str:
    return f"__scimhub_{uuid.uuid4().hex}__"


class _PostgresEngineFactory:
    recycle = 1800.0  # seconds: renew long-lived connections (proxies drop idle ones)

    def __init__(self, url: str, pool_size: int, max_overflow: int, pgbouncer: bool = False) -> None:
        self.url = url
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.pgbouncer = pgbouncer
        # Connections kept on the shelf: one fewer than the pool holds (none with no pool).
        self.keep = max(0, pool_size - 1)

    def connect_args(self) -> dict[str, Any]:
        if not self.pgbouncer:
            return {}
        # PgBouncer in transaction mode hands each transaction to any server connection, so a
        # statement prepared on one may be missing (or named twice) on the next: no statement
        # caches, and unique names for the unnamed-statement fallback (SQLAlchemy's asyncpg docs).
        return {"statement_cache_size": 0, "prepared_statement_name_func": _statement_name}

    def __call__(self) -> AsyncEngine:
        pool: dict[str, Any] = (
            {"poolclass": NullPool}  # 0: a connection per transaction (an external pooler does the pooling)
            if self.pool_size == 0
            else {
                "pool_size": self.pool_size,
                "max_overflow": self.max_overflow,
                "pool_recycle": self.recycle,
            }
        )
        url = make_url(self.url)
        if self.pgbouncer:
            url = url.update_query_dict({"prepared_statement_cache_size": "0"})
        from sqlalchemy.ext.asyncio import create_async_engine  # here: needs greenlet (the postgres extra)

        return create_async_engine(
            url, json_serializer=_json, json_deserializer=orjson.loads, connect_args=self.connect_args(), **pool
        )


def open_database(
    url: str,
    *,
    sqlite_synchronous: str = "NORMAL",
    pool_size: int = 10,
    max_overflow: int = 10,
    pgbouncer: bool = False,
) -> SqliteDatabase | PostgresDatabase:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return SqliteDatabase(create_sqlite_engine(url, sqlite_synchronous), sqlite_synchronous)
    if backend == "postgresql" or url.startswith("postgres://"):
        return PostgresDatabase(_PostgresEngineFactory(postgres_url(url), pool_size, max_overflow, pgbouncer))
    raise ValueError(
        f"Unsupported database URL {make_url(url).render_as_string()!r}: use sqlite:///path/to/file.db "
        "or postgresql://user@host/dbname (install scimhub[postgres])."
    )
