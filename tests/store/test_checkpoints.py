"""SQLite WAL checkpoints run in a thread of their own (store/sqlite_checkpoint.py), not inside the
writer's COMMIT on the event loop, where a 10,000-page checkpoint held every tenant's requests.

These run on a SQLite file of their own in both suite passes: the Writer is SQLite's."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from scimhub.store import sqlite_checkpoint
from scimhub.store.database import SqliteDatabase
from scimhub.store.sqlite import create_sqlite_engine

pytestmark = pytest.mark.anyio


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    path = tmp_path / "checkpoints.db"
    setup = sqlite3.connect(path)
    setup.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT)")
    setup.close()
    database = SqliteDatabase(create_sqlite_engine(f"sqlite:///{path}"))
    yield database
    database.close()


async def insert(db: SqliteDatabase, key: str) -> None:
    async with db.write() as tx:
        await tx.execute(text("INSERT INTO t VALUES (:k, :v)"), {"k": key, "v": "x" * 2000})


def wal_frames(db: SqliteDatabase) -> tuple[int, int]:
    """(frames in the WAL, frames of it already copied into the database file), as another
    connection's PASSIVE checkpoint reports them after doing what it can (nothing is left)."""
    conn = sqlite3.connect(db.engine.url.database or "")
    try:
        _, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return frames, copied
    finally:
        conn.close()


async def test_the_writer_s_commits_do_not_checkpoint_the_wal(db: SqliteDatabase) -> None:
    await insert(db, "a")
    raw, _ = db.writer._open()
    [(pages,)] = raw.execute("PRAGMA wal_autocheckpoint").fetchall()
    assert pages == sqlite_checkpoint.WRITER_AUTOCHECKPOINT


async def test_a_checkpoint_runs_in_its_own_thread_once_enough_units_committed(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_checkpoint, "CHECKPOINT_UNITS", 5)
    threads: list[str] = []
    run = db.writer.checkpointer._checkpoint

    def watched() -> None:
        threads.append(threading.current_thread().name)
        run()

    monkeypatch.setattr(db.writer.checkpointer, "_checkpoint", watched)
    for key in "abcd":
        await insert(db, key)
    db.writer.checkpointer.wait()
    assert db.writer.checkpointer.completed == 0  # 4 units: not due yet

    await insert(db, "e")
    db.writer.checkpointer.wait()

    assert db.writer.checkpointer.completed == 1
    assert threads and threads[0].startswith("scimhub-checkpoint")
    assert threading.current_thread().name not in threads
    frames, copied = wal_frames(db)
    assert frames > 0 and copied == frames  # every page of the five writes is in the database file


async def test_writes_go_on_while_a_checkpoint_runs(db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch) -> None:
    """A PASSIVE checkpoint neither waits for the writer nor makes it wait: units committed
    meanwhile are acknowledged and the next checkpoint copies them."""
    monkeypatch.setattr(sqlite_checkpoint, "CHECKPOINT_UNITS", 3)
    for i in range(30):
        await insert(db, f"k{i}")
    db.writer.checkpointer.wait()
    await insert(db, "last")
    await insert(db, "last2")
    await insert(db, "last3")
    db.writer.checkpointer.wait()

    assert db.writer.checkpointer.completed >= 2
    conn = sqlite3.connect(db.engine.url.database or "")
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (33,)
    finally:
        conn.close()
