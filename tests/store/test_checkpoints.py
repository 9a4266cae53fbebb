"""SQLite WAL checkpoints run in a thread of their own (store/sqlite_checkpoint.py), not inside the
writer's COMMIT on the event loop, where a 10,000-page checkpoint held every tenant's requests.

These run on a SQLite file of their own in both suite passes: the Writer is SQLite's."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from scimhub.store import sqlite_checkpoint
from scimhub.store.database import SqliteDatabase

pytestmark = pytest.mark.anyio


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
    run = db.writer.checkpointer._pass

    def watched() -> bool:
        threads.append(threading.current_thread().name)
        return run()

    monkeypatch.setattr(db.writer.checkpointer, "_pass", watched)
    for key in "abcd":
        await insert(db, key)
    await db.writer.checkpointer.wait()
    assert threads == []  # 4 units: not due yet

    await insert(db, "e")
    await db.writer.checkpointer.wait()

    assert db.writer.checkpointer.completed == 1
    assert threads and all(name.startswith("scimhub-checkpoint") for name in threads)
    frames, copied = wal_frames(db)
    assert frames > 0 and copied == frames  # every page of the five writes is in the database file


async def test_the_wal_starts_over_after_a_checkpoint_while_writes_go_on(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second pass runs with the writer's transaction committed and its lock held, so it
    copies everything and the next write transaction starts the WAL over: the WAL does not grow
    for as long as writes keep coming."""
    monkeypatch.setattr(sqlite_checkpoint, "CHECKPOINT_UNITS", 20)
    raw, _ = db.writer._open()
    raw.execute("PRAGMA journal_size_limit=0")  # a WAL started over is truncated: its size shows it
    wal = Path(f"{db.engine.url.database}-wal")
    for i in range(19):
        await insert(db, f"a{i}")
    grown = wal.stat().st_size  # 19 writes, nothing copied yet
    await insert(db, "a19")  # the 20th unit: the checkpoint starts
    checkpoint = db.writer.checkpointer._running
    assert checkpoint is not None
    written = 0
    while not checkpoint.done():  # writes go on while it runs
        await insert(db, f"during{written}")
        written += 1
    await insert(db, "b")

    assert db.writer.checkpointer.completed == 1
    assert wal.stat().st_size < grown / 4
    conn = sqlite3.connect(db.engine.url.database or "")
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (21 + written,)
    finally:
        conn.close()


def test_a_commit_outside_the_event_loop_starts_no_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer's close() commits what is open, maybe with no loop running: nothing to start."""
    monkeypatch.setattr(sqlite_checkpoint, "CHECKPOINT_UNITS", 1)
    checkpointer = sqlite_checkpoint.Checkpointer(str(tmp_path / "x.db"), lambda raw: None, lambda: None)  # type: ignore[arg-type, return-value]
    try:
        checkpointer.committed(5)
        assert checkpointer._running is None
    finally:
        checkpointer.close()
