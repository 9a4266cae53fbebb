"""SQLite WAL checkpoints in a thread of their own, off the event loop.

A checkpoint copies the pages the WAL holds into the database file. Left to SQLite
(``wal_autocheckpoint``), it runs inside the COMMIT that crosses the threshold: on the writer's
connection, on the event loop. At 10,000 pages (~40 MB) that held the loop, and so every tenant's
requests, for 30-70 ms about every 500 creates (``python -m bench.noisy_tenant --probe write
--collector``: another tenant's worst write wait during 1,000 creates 53-72 ms, 23-28 ms without
it). Here the writer tells the ``Checkpointer`` how many units each commit carried, and once
enough have accumulated a PASSIVE checkpoint runs on a connection of its own in a thread of its
own: SQLite releases the GIL while it copies, and a PASSIVE checkpoint never waits for, nor
blocks, the writer or the readers (it copies what no reader still needs; the writer resets the
WAL once everything was copied).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from typing import Any

log = logging.getLogger("scimhub.store")

# Units of work between two checkpoints: a PATCH dirties ~8 pages and a create ~20, so this is
# ~8,000 pages of PATCHes (SQLite made one every 10,000 on its own before) or ~20,000 of creates.
# Each page is copied once per checkpoint however often it was rewritten: fewer, larger
# checkpoints copy the hot pages (the tails of events, audit_log and their indexes) less often.
CHECKPOINT_UNITS = 1_000
# The writer's own automatic checkpoint stays as a bound should this thread fall behind
# (~400 MB of WAL); it is not reached while the thread keeps up.
WRITER_AUTOCHECKPOINT = 100_000


class Checkpointer:
    """Runs ``PRAGMA wal_checkpoint(PASSIVE)`` on the database file at ``path`` in a thread, once
    CHECKPOINT_UNITS units of work were committed since the last one began (one at a time)."""

    def __init__(self, path: str, configure: Any) -> None:
        self._path = path
        self._configure = configure  # the connection set-up every scimhub connection gets
        self._threads = ThreadPoolExecutor(1, thread_name_prefix="scimhub-checkpoint")
        self._conn: sqlite3.Connection | None = None
        self._units = 0
        self._running: Future[None] | None = None
        self._lock = threading.Lock()  # close() against a checkpoint in flight
        self.completed = 0  # checkpoints run (tests and upkeep read it)

    def committed(self, units: int) -> None:
        """A COMMIT of ``units`` units of work: start a checkpoint if one is due and none runs."""
        self._units += units
        if self._units < CHECKPOINT_UNITS or (self._running is not None and not self._running.done()):
            return
        self._units = 0
        self._running = self._threads.submit(self._checkpoint)

    def _checkpoint(self) -> None:
        with self._lock:
            try:
                if self._conn is None:
                    self._conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
                    self._configure(self._conn)
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # the next one tries again; the writer's own bound still holds
                log.warning("WAL checkpoint of %s failed", self._path, exc_info=True)
                return
            self.completed += 1

    def wait(self) -> None:
        """Until the checkpoint in flight, if any, has ended."""
        if self._running is not None:
            self._running.result()

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
