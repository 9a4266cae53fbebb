"""Sync health's view of the SCIM traffic: the access-log middleware counts each authenticated
request in memory per tenant (``ActivityCounter``); a task of the app's lifespan writes the
counters once a second."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from scimhub.safety.activity import ActivityCounter
from scimhub.store.activity_sql import ActivityStore
from scimhub.timestamps import utc_now

log = logging.getLogger("scimhub.safety")

FLUSH_EVERY = 1.0  # seconds
PRUNE_EVERY = 3600.0  # seconds between deletions of hourly rows past KEEP_HOURS


class ActivityRecorder:
    """The counters of this process and the task that writes them."""

    def __init__(self, store: ActivityStore) -> None:
        self.store = store
        self.counter = ActivityCounter()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def flush(self) -> None:
        batch = self.counter.take()
        try:
            await self.store.write(batch)
        except Exception:  # a health figure must never take the server down
            log.exception("could not write the SCIM traffic of %d tenants", len(batch))

    async def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="scimhub-activity")

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        pruned = 0.0
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), FLUSH_EVERY)
            if self.counter:
                await self.flush()
            if loop.time() - pruned >= PRUNE_EVERY:
                pruned = loop.time()
                with contextlib.suppress(Exception):
                    await self.store.prune(utc_now())
