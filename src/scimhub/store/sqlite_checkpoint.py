"""SQLite WAL checkpoints in a thread of their own, off the event loop.

A checkpoint copies the pages the WAL holds into the database file. Left to SQLite
(``wal_autocheckpoint``), it runs inside the COMMIT that crosses the threshold: on the writer's
connection, on the event loop. At 10,000 pages (~40 MB) that held the loop, and so every tenant's
requests, for 30-70 ms about every 500 creates (``python -m bench.noisy_tenant --probe write
--collector``: another tenant's worst write wait during 1,000 creates 53-72 ms, 21-28 ms here).

Here the writer tells the ``Checkpointer`` how many units each commit carried; once enough have
accumulated, a PASSIVE checkpoint runs on a connection of its own in a thread of its own (SQLite
releases the GIL while it copies; PASSIVE never waits for, nor blocks, the writer or the
readers) while writes go on. The writer appends meanwhile, so that pass cannot copy everything,
and the WAL is only started over (and truncated to ``journal_size_limit``) once everything in it
was copied: a second pass runs, still in the thread, with the writer's transaction committed and
its lock held (``Writer.exclusive``), so that nothing is written meanwhile, once passes made while
the writer went on have left little to copy (a few milliseconds' worth); the next write
transaction then starts the WAL over. Without it the WAL grew by ~5 MB per 1,000 creates for as
long as a burst lasted (270 MB after 50,000).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager

log = logging.getLogger("scimhub.store")

# Units of work between two checkpoints: a PATCH dirties ~8 pages and a create ~20, so this is
# ~8,000 pages of PATCHes (SQLite made one every 10,000 on its own before) or ~20,000 of creates.
# Each page is copied once per checkpoint however often it was rewritten: fewer, larger
# checkpoints copy the hot pages (the tails of events, audit_log and their indexes) less often.
CHECKPOINT_UNITS = 1_000
# Passes made while the writer goes on, at most, before the one that holds it; it holds it once a
# pass left this few frames (~2 MB: a few milliseconds to copy).
UNLOCKED_PASSES = 4
LOCKED_PASS_FRAMES = 500
# The writer's own automatic checkpoint stays as a bound should this fall behind (~400 MB of WAL);
# it is not reached while checkpoints keep up.
WRITER_AUTOCHECKPOINT = 100_000


class Checkpointer:
    """Checkpoints the database file at ``path`` in a thread, once CHECKPOINT_UNITS units of work
    were committed since the last one began (one at a time). ``exclusive``: the writer's
    ``exclusive``, its lock with no transaction open."""

    def __init__(
        self,
        path: str,
        configure: Callable[[sqlite3.Connection], None],
        exclusive: Callable[[], AbstractAsyncContextManager[None]],
    ) -> None:
        self._path = path
        self._configure = configure  # the connection set-up every scimhub connection gets
        self._exclusive = exclusive
        self._threads = ThreadPoolExecutor(1, thread_name_prefix="scimhub-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._units = 0
        self._running: asyncio.Task[None] | None = None
        self._closing = threading.Event()
        self.completed = 0  # checkpoints that copied everything

    def committed(self, units: int) -> None:
        """A COMMIT of ``units`` units of work (on the event loop): start a checkpoint if one is
        due and none runs."""
        self._units += units
        if self._units < CHECKPOINT_UNITS or (self._running is not None and not self._running.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a commit outside the event loop (the writer closing): no checkpoint
            return
        self._units = 0
        self._running = loop.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            # While the writer goes on; each pass leaves what was committed during it, less
            # each time (copying a page costs far less than writing it).
            left = await loop.run_in_executor(self._threads, self._pass)
            for _ in range(UNLOCKED_PASSES - 1):
                if left <= LOCKED_PASS_FRAMES:
                    break
                left = await loop.run_in_executor(self._threads, self._pass)
            async with self._exclusive():  # nothing written meanwhile: this pass copies the rest
                left = await loop.run_in_executor(self._threads, self._pass)
        except (sqlite3.Error, RuntimeError):  # the next one tries again; the writer's bound holds
            if not self._closing.is_set():
                log.warning("WAL checkpoint of %s failed", self._path, exc_info=True)
            return
        if left == 0:
            self.completed += 1

    def _pass(self) -> int:
        """One PASSIVE checkpoint: the frames of the WAL it left uncopied."""
        if self._closing.is_set():
            raise RuntimeError("closing")
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._configure(self._conn)
        busy, frames, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return max(frames, 1) if busy else int(frames) - int(copied)

    async def wait(self) -> None:
        """Until the checkpoint in flight, if any, has ended."""
        if self._running is not None:
            await asyncio.shield(self._running)

    def close(self) -> None:
        self._closing.set()
        if self._running is not None and not self._running.done():
            try:
                self._running.cancel()
            except RuntimeError:  # its event loop is closed already
                pass
        self._threads.shutdown(wait=True)  # a pass in flight ends; none starts
        if self._conn is not None:
            self._conn.close()
            self._conn = None
