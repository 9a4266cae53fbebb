"""SQLite set-up: WAL, foreign keys, Unicode folding functions, and the one writer connection.

pysqlite's own transaction handling is switched off (``isolation_level = None``) and
transactions are begun explicitly, as SQLAlchemy's SQLite dialect documentation
recommends, so that a write transaction takes the write lock at BEGIN and a reader
sees one snapshot for its count and page queries.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import unicodedata
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from contextlib import asynccontextmanager
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from scimhub.schema.compare import fold
from scimhub.store.sqlite_checkpoint import WRITER_AUTOCHECKPOINT
from scimhub.store.sqlite_checkpoint import Checkpointer

# synchronous=NORMAL in WAL mode survives a killed process (not a power loss); FULL is the
# setting for that, at a cost per commit (SCIMHUB_SQLITE_SYNCHRONOUS).
# wal_autocheckpoint: a checkpoint every 10,000 WAL pages (~40 MB) instead of SQLite's 1,000. Each
# write dirties 7-20 pages, most of them the same hot pages (the tails of events, audit_log and
# their indexes); a checkpoint copies each page once however often it was rewritten, so fewer,
# larger checkpoints cut a PATCH's CPU by ~10% (python -m bench.asgi_hotpath). The server's
# writer leaves them to a thread instead (sqlite_checkpoint); this is for every other connection
# that commits (the CLI's). journal_size_limit truncates a WAL that a long reader let grow beyond
# that, after its checkpoint.
PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    "busy_timeout=10000",
    "wal_autocheckpoint=10000",
    "journal_size_limit=67108864",
)


def configure(dbapi_connection: Any, synchronous: str) -> None:
    """Every connection scimhub opens on the file: pragmas, autocommit driver, UDFs."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (*PRAGMAS, f"synchronous={synchronous}"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()
    # Unicode-correct case folding for filters (SQLite's lower() is ASCII-only).
    dbapi_connection.create_function("scim_fold", 1, _fold_or_none, deterministic=True)
    dbapi_connection.create_function("scim_nfc", 1, _nfc_or_none, deterministic=True)


def create_sqlite_engine(url: str, synchronous: str = "NORMAL") -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        configure(dbapi_connection, synchronous)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")  # readers only: writes go through Writer (BEGIN IMMEDIATE)

    return engine


def _fold_or_none(value: object) -> str | None:
    return fold(value) if isinstance(value, str) else None


def _nfc_or_none(value: object) -> str | None:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else None


_T = TypeVar("_T")

# Reads that may scan run in these threads (SQLite releases the GIL while it steps a statement):
# two, so one tenant's scan (the store lets each tenant run one at a time) leaves a thread for
# another's on this 2-core class of machine.
SCAN_THREADS = 2
# VM instructions between two looks at the clock (~0.1-1 ms of work): the look needs the GIL.
PROGRESS_STEPS = 20_000


class Scanner:
    """Reads that may scan (a filter or sort no index answers): on connections of their own, in a
    small thread pool, each stopped by a progress handler at its deadline. The event loop and the
    Writer never wait for them."""

    def __init__(self, url: str, synchronous: str) -> None:
        self.engine = create_sqlite_engine(url, synchronous)  # a pool of its own: no reader gets a handler
        self._threads = ThreadPoolExecutor(SCAN_THREADS, thread_name_prefix="scimhub-scan")

    async def run(self, stop: ScanStop, raw: sqlite3.Connection, work: Callable[..., _T], *args: Any) -> _T:
        """``work(*args)`` in a scan thread, on ``raw``'s connection (whose progress handler is
        ``stop``). A cancelled caller stops the work and still waits for the thread to let go of
        the connection, so that it never goes back to the pool in use."""
        running = self._threads.submit(work, *args)
        try:
            return await asyncio.wrap_future(running)
        except asyncio.CancelledError:
            stop.cancelled = True  # the next statement, or the next look at the clock, ends
            if not running.cancel():
                raw.interrupt()
                ended = asyncio.wrap_future(running)
                await asyncio.wait([ended])
                if not ended.cancelled():
                    ended.exception()  # "interrupted": nobody is left to answer
            raise

    def close(self) -> None:
        self._threads.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


class ScanStop:
    """A scan connection's progress handler: true (SQLite then aborts the statement with
    OperationalError "interrupted") once ``time.monotonic()`` passes the deadline, or once the
    scan's caller is gone."""

    __slots__ = ("cancelled", "deadline")

    def __init__(self, deadline: float | None) -> None:
        self.deadline = deadline
        self.cancelled = False

    def __call__(self) -> bool:
        return self.cancelled or (self.deadline is not None and time.monotonic() > self.deadline)

    def install(self, raw: sqlite3.Connection) -> None:
        raw.set_progress_handler(self, PROGRESS_STEPS)

    @staticmethod
    def remove(raw: sqlite3.Connection) -> None:
        raw.set_progress_handler(None, 0)


class _WriterConnection(sqlite3.Connection):
    """The writer's driver connection. SQLAlchemy ends its logical transaction with the driver's
    commit()/rollback(); here the Writer issues BEGIN, SAVEPOINT and COMMIT itself, and a unit of
    work ending must not commit (or roll back) the other units of its group."""

    def commit(self) -> None:
        pass

    def rollback(self) -> None:
        pass


# Units of work one transaction may carry before it is committed on the spot.
MAX_GROUP = 64
# While a caller defers its commits (a bulk request between two of its operations), the open
# transaction waits at most this long for more units before it is committed.
HOLD_SECONDS = 0.02
# The commits a caller defers (``Writer.deferring``): units of work in its context add theirs here.
_deferred: ContextVar[list[asyncio.Future[None]] | None] = ContextVar("scimhub_deferred_commits", default=None)


class Writer:
    """This process's one write connection, kept open, with group commit.

    Units of work (``unit``) share a transaction, one at a time under an asyncio lock (SQLite has
    one writer; BEGIN IMMEDIATE takes the file's write lock against other processes): the first
    opens it, each later one runs in a SAVEPOINT. The transaction is committed by a task created
    when it began, which runs after the event loop's ready callbacks: requests that were ready by
    then add their units to the same transaction. A unit returns only once its transaction has
    committed, so nothing is acknowledged before it is durable; a failed unit rolls back alone.

    Why: a commit writes every page the transaction dirtied to the WAL (7.4 for a PATCH of
    `active`, 20 for a create), most of them the same hot pages (the tails of events, audit_log
    and their indexes), and COMMIT was a fifth of a write's CPU. Under a burst (an IdP's initial
    sync) a group writes those pages once. Alone, a unit costs one loop turn more.
    """

    def __init__(self, url: str, synchronous: str) -> None:
        self.lock = asyncio.Lock()
        self._path = make_url(url).database or ""
        self._synchronous = synchronous
        # One driver connection for the life of the process (StaticPool), opened on first use.
        self.engine = create_engine("sqlite://", creator=self._connect, poolclass=StaticPool)
        self._raw: sqlite3.Connection | None = None
        self._conn: Connection | None = None
        self._group: list[asyncio.Future[None]] | None = None  # units of the open transaction
        self._holds = 0  # callers deferring their commits (see ``deferring``)
        self._hurried: list[asyncio.Future[None]] | None = None  # the group a waiting unit joined
        self._committers: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self.checkpointer = Checkpointer(self._path, lambda raw: configure(raw, synchronous), self.exclusive)

    def _connect(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self._path, check_same_thread=False, factory=_WriterConnection)
        configure(raw, self._synchronous)
        # Its COMMITs checkpoint no more: ``checkpointer`` does, off the event loop.
        raw.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
        # The savepoints' sub-journals in memory (they hold a group's pages, not a sort of the
        # whole directory, which the readers' temp files do): -10% CPU for grouped creates.
        raw.execute("PRAGMA temp_store=MEMORY")
        return raw

    def _open(self) -> tuple[sqlite3.Connection, Connection]:
        if self._raw is None or self._conn is None:
            self._conn = self.engine.connect()
            self._raw = self._conn.connection.driver_connection
        assert self._raw is not None
        return self._raw, self._conn

    def unit(self) -> AbstractAsyncContextManager[Connection]:
        """One unit of work; leaving it waits for the commit of its transaction (``_Unit``)."""
        return _Unit(self)

    @contextmanager
    def deferring(self) -> Iterator[list[asyncio.Future[None]]]:
        """Units of work run in this context return before their commit; the list holds what
        each waits for, in order (the caller awaits them before it acknowledges anything).

        Meanwhile the open transaction is committed when it has MAX_GROUP units, HOLD_SECONDS
        after it began, at the next turn once a unit whose caller waits for it joins (another
        request's write is not held back by a bulk), or when the last deferring caller leaves:
        a bulk request's operations share commits (one per unit would cost a fifth of each
        write), while it releases the writer between them so that other requests' units run in
        between."""
        deferred: list[asyncio.Future[None]] = []
        token = _deferred.set(deferred)
        self._holds += 1
        try:
            yield deferred
        finally:
            _deferred.reset(token)
            self._holds -= 1
            if not self._holds and self._group is not None:
                self._commit_soon(self._group)

    def _undo_unit(self, raw: sqlite3.Connection, conn: Connection, first: bool) -> None:
        if conn.in_transaction():
            conn.rollback()  # SQLAlchemy's side only
        if raw.in_transaction and not first:
            raw.execute("ROLLBACK TO unit")
            raw.execute("RELEASE unit")
            return
        if raw.in_transaction:
            raw.execute("ROLLBACK")  # the first unit: the transaction holds nothing else
        group, self._group = self._group, None
        # Otherwise SQLite rolled the whole transaction back (e.g. SQLITE_FULL): the group's
        # earlier units are lost with it. None of them was acknowledged; each fails.
        _fail(group or [], "SQLite rolled the transaction back")

    def _commit_soon(self, group: list[asyncio.Future[None]], hold: bool = True) -> None:
        committer = asyncio.get_running_loop().create_task(self._commit_later(group, hold))
        self._committers.add(committer)
        committer.add_done_callback(self._committers.discard)

    async def _commit_later(self, group: list[asyncio.Future[None]], hold: bool) -> None:
        if hold and self._holds:
            await asyncio.sleep(HOLD_SECONDS)  # a deferring caller has more units to come
        async with self.lock:
            if self._group is group:
                self._commit()

    def _commit(self) -> None:
        group, self._group = self._group, None
        if group is None:
            return
        assert self._raw is not None
        try:
            self._raw.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._raw.in_transaction:
                self._raw.execute("ROLLBACK")
            _fail(group, str(exc))
            return
        self.checkpointer.committed(len(group))
        for done in group:
            if not done.done():
                done.set_result(None)

    def idle_connection(self) -> sqlite3.Connection | None:
        """The writer's connection when it has no transaction open (a read on it then sees what
        is committed, as a reader's would), else None."""
        raw = self._raw
        return raw if raw is not None and not raw.in_transaction else None

    def peek(self, sql: str, values: list[Any]) -> list[Any]:
        """One read on this connection outside any unit, without the lock: it runs to its end
        before any other code on the loop (no unit's statements come between its steps), and
        sees the open transaction as the next unit will."""
        raw, _ = self._open()
        return raw.execute(sql, values).fetchall()

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """The writer lock with no transaction open: for work on another connection that writes
        (ANALYZE), which would otherwise wait for this connection's write lock."""
        async with self.lock:
            self._commit()
            yield

    def close(self) -> None:
        if self._group is not None:
            self._commit()  # its units are waiting for it
        if self._conn is not None:
            self._conn.close()
        self.engine.dispose()
        self._raw = self._conn = None
        self.checkpointer.close()


def _fail(group: list[asyncio.Future[None]], why: str) -> None:
    for done in group:
        if not done.done():
            done.set_exception(sqlite3.OperationalError(f"the write was not committed: {why}"))


class _Unit(AbstractAsyncContextManager[Connection]):
    """``Writer.unit``: a class, not an ``asynccontextmanager``, as every write of the process
    enters one (an async generator costs its set-up and asyncio's tracking of it: ~2 µs)."""

    __slots__ = ("_conn", "_first", "_group", "_raw", "_writer")

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def __aenter__(self) -> Connection:
        writer = self._writer
        await writer.lock.acquire()
        try:
            raw, conn = writer._open()
            group = writer._group
            # The first unit of a transaction needs no savepoint: nothing else is in it to keep.
            # (A savepoint copies each page it dirties to a sub-journal: +20% on a lone PATCH.)
            first = group is None
            if group is None:
                raw.execute("BEGIN IMMEDIATE")
                group = writer._group = []
                writer._commit_soon(group)
            else:
                raw.execute("SAVEPOINT unit")
        except BaseException:
            writer.lock.release()
            raise
        self._raw, self._conn, self._group, self._first = raw, conn, group, first
        return conn

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        writer, raw, group = self._writer, self._raw, self._group
        try:
            if exc_type is not None:
                writer._undo_unit(raw, self._conn, self._first)
                return
            self._conn.commit()  # SQLAlchemy's side only (_WriterConnection)
            if not self._first:
                raw.execute("RELEASE unit")
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            group.append(done)
            deferred = _deferred.get()
            if len(group) >= MAX_GROUP:
                writer._commit()
            elif deferred is None and writer._holds and writer._hurried is not group:
                # A request that waits for its commit joined a transaction a bulk request keeps
                # open: commit it at the next turn, not after the bulk's hold (HOLD_SECONDS).
                writer._hurried = group
                writer._commit_soon(group, hold=False)
        finally:
            writer.lock.release()
        if deferred is None:
            await done
        else:
            deferred.append(done)
