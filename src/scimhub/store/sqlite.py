"""SQLite set-up: WAL, foreign keys, Unicode folding functions, and the one writer connection.

pysqlite's own transaction handling is switched off (``isolation_level = None``) and
transactions are begun explicitly, as SQLAlchemy's SQLite dialect documentation
recommends, so that a write transaction takes the write lock at BEGIN and a reader
sees one snapshot for its count and page queries.
"""

from __future__ import annotations

import asyncio
import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from scimhub.schema.compare import fold

# synchronous=NORMAL in WAL mode survives a killed process (not a power loss); FULL is the
# setting for that, at a cost per commit (SCIMHUB_SQLITE_SYNCHRONOUS).
# wal_autocheckpoint: a checkpoint every 10,000 WAL pages (~40 MB) instead of SQLite's 1,000. Each
# write dirties ~18 pages, most of them the same hot pages (the tails of events, audit_log and
# their indexes); a checkpoint copies each page once however often it was rewritten, so fewer,
# larger checkpoints cut a PATCH's CPU by ~10% (python -m bench.asgi_hotpath). journal_size_limit
# truncates a WAL that a long reader let grow beyond that, after its checkpoint.
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


class Writer:
    """This process's one write connection, kept open: BEGIN IMMEDIATE and COMMIT go straight to
    the driver (SQLAlchemy's pooled begin/commit cost ~180 µs a transaction, the driver's ~10 µs),
    and a SQLAlchemy Connection on the same driver connection runs the Core statements.

    SQLite has one writer: an asyncio lock keeps this process to one transaction at a time, and
    BEGIN IMMEDIATE takes the file's write lock against other processes.
    """

    def __init__(self, url: str, synchronous: str) -> None:
        self.lock = asyncio.Lock()
        self._path = make_url(url).database or ""
        self._synchronous = synchronous
        # One driver connection for the life of the process (StaticPool), opened on first use.
        self.engine = create_engine("sqlite://", creator=self._connect, poolclass=StaticPool)
        self._raw: sqlite3.Connection | None = None
        self._conn: Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        raw = sqlite3.connect(self._path, check_same_thread=False)
        configure(raw, self._synchronous)
        return raw

    def _open(self) -> tuple[sqlite3.Connection, Connection]:
        if self._raw is None or self._conn is None:
            self._conn = self.engine.connect()
            self._raw = self._conn.connection.driver_connection
        assert self._raw is not None
        return self._raw, self._conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Call with ``lock`` held."""
        raw, conn = self._open()
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction():
                conn.rollback()  # SQLAlchemy's logical transaction; rolls the driver's back too
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        if conn.in_transaction():
            conn.commit()  # commits the driver's transaction too
        if raw.in_transaction:
            raw.execute("COMMIT")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self.engine.dispose()
        self._raw = self._conn = None
