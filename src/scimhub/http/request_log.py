"""Records each authenticated SCIM request of a tenant into the request log (after auth).

The request handling never waits for the log: entries go to an in-memory buffer that a
background task (or a read of the log) flushes in batches, one transaction per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.protocol.context import Principal
from scimhub.requestlog import error_detail
from scimhub.requestlog import redact_body
from scimhub.store.request_log_sql import LoggedRequest
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.timestamps import utc_now

log = logging.getLogger("scimhub.requestlog")
FLUSH_EVERY = 1.0  # seconds
FLUSH_AT = 200  # entries: flush inline past this many


class RequestLogBuffer:
    def __init__(self, store: RequestLogStore, body_cap: int) -> None:
        self.store = store
        self.body_cap = body_cap
        self._pending: list[LoggedRequest] = []
        self._task: asyncio.Task[None] | None = None

    async def add(self, entry: LoggedRequest) -> None:
        self._pending.append(entry)
        if len(self._pending) >= FLUSH_AT:
            await self.flush()

    async def flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            await self.store.append(batch)
        except Exception:  # a debugging aid must never take the server down
            log.exception("could not write %d request-log entries", len(batch))

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scimhub-request-log")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await self.flush()


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, buffer: RequestLogBuffer) -> None:
        self.app = app
        self.buffer = buffer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal: Principal | None = scope.get("scimhub.principal")
        if scope["type"] != "http" or principal is None:
            await self.app(scope, receive, send)
            return
        cap = self.buffer.body_cap
        request_body, response_body = bytearray(), bytearray()
        response_size = 0
        status = 500
        started = time.perf_counter()

        async def tee_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                # Whole: the endpoint holds it too (at most SCIMHUB_MAX_BODY_BYTES are read), and
                # secrets are found in the parsed JSON only; the cap applies after redaction.
                request_body.extend(message.get("body", b""))
            return message

        async def tee_send(message: Message) -> None:
            nonlocal status, response_size
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                response_size += len(chunk)
                if len(response_body) <= cap:
                    response_body.extend(chunk[: cap + 1 - len(response_body)])
            await send(message)

        try:
            await self.app(scope, tee_receive, tee_send)
        finally:
            await self.buffer.add(
                LoggedRequest(
                    tenant_id=principal.tenant_id,
                    at=utc_now(),
                    request_id=scope.get("scimhub.request_id", "-"),
                    token_id=principal.token_id,
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1") or None,
                    status=status,
                    latency_ms=round((time.perf_counter() - started) * 1000),
                    error=error_detail(bytes(response_body)) if status >= 400 else None,
                    request_body=redact_body(bytes(request_body), cap),
                    response_body=redact_body(bytes(response_body), cap, response_size),
                )
            )
