"""bench/sqlite_time.py: the writer connection's statements are timed and counted, SQLAlchemy's
(through cursors) and the Writer's own (BEGIN, COMMIT on the connection) alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from bench import sqlite_time
from scimhub.store.database import SqliteDatabase
from scimhub.store.prepared import prepare
from scimhub.store.sqlite import create_sqlite_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
def timed(tmp_path: Path) -> Iterator[SqliteDatabase]:
    path = tmp_path / "timed.db"
    sqlite_time.install()
    try:
        database = SqliteDatabase(create_sqlite_engine(f"sqlite:///{path}"))
        yield database
        database.close()
    finally:
        sqlite_time.uninstall()


async def test_the_writers_statements_are_counted_and_their_time_summed(timed: SqliteDatabase) -> None:
    async with timed.write() as tx:
        await tx.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY)"))
    sqlite_time.SPENT.reset()
    async with timed.write() as tx:
        await tx.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": "a"})  # SQLAlchemy: a cursor
    ns, statements = sqlite_time.SPENT.reset()
    assert statements >= 3  # BEGIN IMMEDIATE and COMMIT on the connection, the INSERT on a cursor
    assert ns > 0
    rows = await timed.peek(prepare(text("SELECT k FROM t")))
    assert [tuple(r) for r in rows] == [("a",)]
    assert sqlite_time.SPENT.reset()[1] == 1


async def test_uninstall_leaves_new_writers_plain(tmp_path: Path) -> None:
    sqlite_time.install()
    sqlite_time.uninstall()
    database = SqliteDatabase(create_sqlite_engine(f"sqlite:///{tmp_path / 'plain.db'}"))
    try:
        sqlite_time.SPENT.reset()
        async with database.write() as tx:
            await tx.execute(text("CREATE TABLE t (k TEXT)"))
        assert sqlite_time.SPENT.reset() == (0, 0)
    finally:
        database.close()
