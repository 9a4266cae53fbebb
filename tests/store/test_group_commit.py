"""SQLite group commit (store/sqlite.py Writer): concurrent units of work share one transaction,
each is acknowledged only once it is committed, and a failing unit takes only itself back.

These run on a SQLite file of their own in both suite passes: the Writer is SQLite's."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from scimhub.store import sqlite as sqlite_module
from scimhub.store.database import SqliteDatabase
from scimhub.store.prepared import prepare
from scimhub.store.sqlite import HOLD_SECONDS
from scimhub.store.sqlite import MAX_GROUP

pytestmark = pytest.mark.anyio


def committed(db: SqliteDatabase) -> set[str]:
    """What another connection sees: only committed rows."""
    conn = sqlite3.connect(db.engine.url.database or "")
    try:
        return {k for (k,) in conn.execute("SELECT k FROM t")}
    finally:
        conn.close()


async def insert(db: SqliteDatabase, key: str, seen: dict[str, set[str]] | None = None) -> None:
    async with db.write() as tx:
        await tx.execute(text("INSERT INTO t (k) VALUES (:k)"), {"k": key})
    if seen is not None:
        seen[key] = committed(db)  # the moment the write is acknowledged


class CountingCommits:
    """Counts the COMMITs the writer issues (and can make them fail)."""

    def __init__(self, raw: sqlite3.Connection, fail: bool = False) -> None:
        self.raw, self.fail, self.commits = raw, fail, 0

    def execute(self, sql: str, *args: Any) -> Any:
        if sql == "COMMIT":
            self.commits += 1
            if self.fail:
                raise sqlite3.OperationalError("disk I/O error")
        return self.raw.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def count_commits(db: SqliteDatabase, fail: bool = False) -> CountingCommits:
    raw, _ = db.writer._open()
    counter = CountingCommits(raw, fail)
    db.writer._raw = counter  # type: ignore[assignment]
    return counter


async def test_concurrent_units_share_one_commit_and_each_is_committed_when_acknowledged(
    db: SqliteDatabase,
) -> None:
    counter = count_commits(db)
    seen: dict[str, set[str]] = {}
    keys = [f"k{i}" for i in range(8)]
    await asyncio.gather(*(insert(db, k, seen) for k in keys))
    assert counter.commits == 1
    assert committed(db) == set(keys)
    assert all(key in seen[key] for key in keys)  # none was acknowledged before its commit


async def test_a_lone_unit_commits_without_waiting_for_company(db: SqliteDatabase) -> None:
    counter = count_commits(db)
    for key in ("a", "b", "c"):
        await insert(db, key)
        assert key in committed(db)
    assert counter.commits == 3


async def test_a_failing_unit_in_a_group_takes_back_only_its_own_writes(db: SqliteDatabase) -> None:
    counter = count_commits(db)
    results = await asyncio.gather(insert(db, "x"), insert(db, "x"), insert(db, "y"), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception) and "UNIQUE" in str(results[1])
    assert committed(db) == {"x", "y"}
    assert counter.commits == 1


async def test_a_failing_first_unit_leaves_the_writer_usable(db: SqliteDatabase) -> None:
    async def bad() -> None:
        async with db.write() as tx:
            await tx.execute(text("INSERT INTO t (k) VALUES ('gone')"))
            raise RuntimeError("the unit of work refuses")

    with pytest.raises(RuntimeError):
        await bad()
    await insert(db, "kept")
    assert committed(db) == {"kept"}


async def test_a_failed_commit_fails_every_unit_of_the_group_and_keeps_nothing(db: SqliteDatabase) -> None:
    counter = count_commits(db, fail=True)
    results = await asyncio.gather(*(insert(db, k) for k in ("p", "q", "r")), return_exceptions=True)
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    assert counter.commits == 1
    counter.fail = False
    await insert(db, "s")
    assert committed(db) == {"s"}


async def test_a_transaction_sqlite_rolled_back_fails_the_units_before_it(db: SqliteDatabase) -> None:
    async def abort() -> None:
        async with db.write() as tx:
            await tx.execute(text("INSERT INTO t (k) VALUES ('aborted')"))
            db.writer._open()[0].execute("ROLLBACK")  # what SQLite does itself on SQLITE_FULL
            raise sqlite3.OperationalError("database or disk is full")

    results = await asyncio.gather(insert(db, "before"), abort(), return_exceptions=True)
    assert isinstance(results[0], sqlite3.OperationalError), results
    assert isinstance(results[1], sqlite3.OperationalError)
    assert committed(db) == set()
    await insert(db, "after")
    assert committed(db) == {"after"}


async def test_a_group_is_committed_on_the_spot_when_full(db: SqliteDatabase) -> None:
    counter = count_commits(db)
    keys = [f"k{i}" for i in range(MAX_GROUP + 3)]
    await asyncio.gather(*(insert(db, k) for k in keys))
    assert counter.commits == 2
    assert committed(db) == set(keys)


async def test_exclusive_commits_the_open_group_first(db: SqliteDatabase) -> None:
    pending = asyncio.create_task(insert(db, "waiting"))
    await asyncio.sleep(0)  # the unit ran and now waits for its group's commit
    async with db.exclusive():
        assert committed(db) == {"waiting"}
        conn = sqlite3.connect(db.engine.url.database or "", timeout=0.1)
        conn.execute("INSERT INTO t (k) VALUES ('elsewhere')")  # the file's write lock is free
        conn.commit()
        conn.close()
    await pending
    assert committed(db) == {"waiting", "elsewhere"}


# -- deferred commits (a bulk request's operations) -----------------------------------------------
async def test_deferred_units_return_before_their_commit_share_commits_and_fail_alone(db: SqliteDatabase) -> None:
    counter = count_commits(db)
    with db.deferring() as pending:
        for i in range(10):
            await insert(db, f"d{i}")
            await asyncio.sleep(0)  # the group's committer runs here: it must not commit yet
        with pytest.raises(IntegrityError):
            await insert(db, "d3")  # a failing unit takes only itself back
        assert committed(db) == set()  # nothing durable yet: nothing may be acknowledged
        assert len(pending) == 10
    await asyncio.gather(*pending)

    assert committed(db) == {f"d{i}" for i in range(10)}
    assert counter.commits == 1


async def test_a_deferring_caller_holds_a_transaction_at_most_max_group_units(db: SqliteDatabase) -> None:
    counter = count_commits(db)
    with db.deferring() as pending:
        for i in range(MAX_GROUP + 1):
            await insert(db, f"d{i}")
        assert len(committed(db)) == MAX_GROUP
    await asyncio.gather(*pending)

    assert counter.commits == 2


async def test_another_request_s_unit_joins_a_deferred_group_and_commits_it_at_once(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A single write interleaved between a bulk's units is committed with the bulk's earlier
    units at the next turn, not after the bulk's hold: another request's answer does not wait for
    a bulk. It is answered only once that commit is done."""
    monkeypatch.setattr(sqlite_module, "HOLD_SECONDS", 60.0)  # the single must not wait for it
    seen: dict[str, set[str]] = {}
    go = asyncio.Event()

    async def single() -> None:  # another request: a task of its own, not the bulk's context
        await go.wait()
        await insert(db, "single", seen)

    other = asyncio.create_task(single())
    with db.deferring() as pending:
        await insert(db, "bulk1")
        go.set()
        await asyncio.wait_for(asyncio.shield(other), timeout=5)
        assert seen["single"] == {"bulk1", "single"}
        await insert(db, "bulk2")  # a transaction of its own, committed when the bulk ends
        assert committed(db) == {"bulk1", "single"}
    await asyncio.gather(*pending)

    assert committed(db) == {"bulk1", "single", "bulk2"}


async def test_units_of_waiting_requests_joining_one_deferred_group_commit_it_once(
    db: SqliteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_module, "HOLD_SECONDS", 60.0)
    go = asyncio.Event()

    async def single(key: str) -> None:  # other requests, outside the bulk's context
        await go.wait()
        await insert(db, key)

    others = [asyncio.create_task(single(f"s{i}")) for i in range(5)]
    with db.deferring() as pending:
        await insert(db, "bulk")
        counter = count_commits(db)
        go.set()
        await asyncio.wait_for(asyncio.gather(*others), timeout=5)
    await asyncio.gather(*pending)

    assert counter.commits == 1
    assert committed(db) == {"bulk", *(f"s{i}" for i in range(5))}


async def test_a_held_group_is_committed_after_hold_seconds_if_the_deferring_caller_lingers(
    db: SqliteDatabase,
) -> None:
    with db.deferring() as pending:
        await insert(db, "held")
        await asyncio.sleep(HOLD_SECONDS * 10)
        assert committed(db) == {"held"}
    await asyncio.gather(*pending)


COUNT = prepare(text("SELECT count(*) FROM t"))


async def test_a_hot_read_sees_only_what_is_committed_whether_the_writer_is_idle_or_not(db: SqliteDatabase) -> None:
    """Between transactions ``fast`` reads on the writer's connection (its page cache is current);
    while the writer holds a transaction open it reads on its own connection, which sees none of
    that transaction's units."""
    await insert(db, "committed")
    assert db.writer.idle_connection() is not None
    assert await db.fast(COUNT) == [(1,)]
    with db.deferring() as pending:
        await insert(db, "open")  # in the writer's open transaction: not committed yet
        assert db.writer.idle_connection() is None
        assert await db.fast(COUNT) == [(1,)]
        assert await db.peek(COUNT) == [(2,)]  # what the next unit of work will see
    await asyncio.gather(*pending)
    assert await db.fast(COUNT) == [(2,)]
