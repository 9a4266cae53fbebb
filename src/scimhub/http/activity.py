"""Sync health's view of the SCIM traffic: each authenticated request counted in memory per tenant
(outcome, User-Agent), the counters written once a second by a task of the app's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.protocol.context import Principal
from scimhub.safety.activity import ActivityCounter
from scimhub.store.activity_sql import ActivityStore
from scimhub.timestamps import utc_now

log = logging.getLogger("scimhub.safety")

FLUSH_EVERY = 1.0  # seconds
PRUNE_EVERY = 3600.0  # seconds between deletions of hourly rows past KEEP_HOURS
_ERROR_BODY_BYTES = 4096  # an error body is read for its scimType up to this size


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


class ActivityMiddleware:
    """Inside the bearer authentication (the tenant is known); reads an error body for its scimType."""

    def __init__(self, app: ASGIApp, recorder: ActivityRecorder) -> None:
        self.app = app
        self.counter = recorder.counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("scimhub.principal")
        if principal is None:
            await self.app(scope, receive, send)
            return
        status = 500
        error_body = bytearray()

        async def counting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif status >= 400 and len(error_body) < _ERROR_BODY_BYTES:
                error_body.extend(message.get("body", b"")[:_ERROR_BODY_BYTES])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            scim_type = _scim_type(error_body) if status >= 400 else None
            self.counter.record(principal.tenant_id, status, scim_type, _user_agent(scope))


def _scim_type(body: bytearray) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    found = parsed.get("scimType") if isinstance(parsed, dict) else None
    return found if isinstance(found, str) and len(found) <= 40 else None


def _user_agent(scope: Scope) -> bytes | None:
    for key, value in scope["headers"]:
        if key == b"user-agent":
            return bytes(value)
    return None
