"""SQLite engine set-up: WAL, foreign keys, explicit BEGIN IMMEDIATE for writers.

pysqlite's own transaction handling is switched off (``isolation_level = None``) and
transactions are begun explicitly, as SQLAlchemy's SQLite dialect documentation
recommends, so that a write transaction takes the write lock at BEGIN and a reader
sees one snapshot for its count and page queries.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection

from scimhub.schema.compare import fold

# synchronous=NORMAL in WAL mode survives a killed process (not a power loss); FULL is the
# setting for that, at a cost per commit (SCIMHUB_SQLITE_SYNCHRONOUS).
PRAGMAS = ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000")


def create_sqlite_engine(url: str, synchronous: str = "NORMAL") -> Engine:
    engine = create_engine(url, connect_args={"check_same_thread": False})
    pragmas = (*PRAGMAS, f"synchronous={synchronous}")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()
        # Unicode-correct case folding for filters (SQLite's lower() is ASCII-only).
        dbapi_connection.create_function("scim_fold", 1, _fold_or_none, deterministic=True)
        dbapi_connection.create_function("scim_nfc", 1, _nfc_or_none, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("writer") else "BEGIN")

    return engine


def _fold_or_none(value: object) -> str | None:
    return fold(value) if isinstance(value, str) else None


def _nfc_or_none(value: object) -> str | None:
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else None


@asynccontextmanager
async def write_transaction(engine: Engine, lock: asyncio.Lock) -> AsyncIterator[Connection]:
    """The one way to write: this process's writer lock, then BEGIN IMMEDIATE on a pooled connection."""
    async with lock:
        with engine.connect() as conn:
            conn.info["writer"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info["writer"] = False  # the flag stays with the pooled connection
