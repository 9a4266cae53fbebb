"""Records each authenticated SCIM request of a tenant into the request log (after auth).

The request handling never waits for the log: entries go to an in-memory ring per tenant that a
background task (or a read of the log) flushes, one transaction per flush. A ring holds the
tenant's last ``keep`` requests, the most the log keeps: under a burst, an entry pushed out of
the ring before a flush is one the log would have trimmed, so it is never redacted or written.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from dataclasses import replace

import orjson
from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.http.endpoints import IGNORED_KEY
from scimhub.protocol.context import Principal
from scimhub.requestlog import error_detail
from scimhub.requestlog import redact_body
from scimhub.store.request_log_sql import LoggedRequest
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.timestamps import utc_now

log = logging.getLogger("scimhub.requestlog")
FLUSH_EVERY = 1.0  # seconds
# Entries of all tenants together: flush inline past this many. An entry holds at most ~2 body
# caps (8 KB by default; a larger request body is redacted and cut when it is captured).
MAX_PENDING = 2_000
# A flush redacting entries yields to the event loop once it has run this long (seconds): an entry
# costs ~5-50 µs, at most a few ms for a body built to be slow (the redaction stops at the cap).
REDACT_SLICE = 0.005


@dataclass(slots=True)
class CapturedRequest:
    """A request as captured: the entry without its error and bodies, and the raw bodies, which
    only the entries that are written get redacted."""

    entry: LoggedRequest
    request_body: bytes | str | None  # raw when at most the cap; else already redacted and cut
    response_body: bytes  # at most body_cap + 1 bytes
    response_size: int

    def logged(self, cap: int) -> LoggedRequest:
        body = self.request_body
        return replace(
            self.entry,
            error=error_detail(self.response_body) if self.entry.status >= 400 else None,
            request_body=redact_body(body, cap) if isinstance(body, bytes) else body,
            response_body=redact_body(self.response_body, cap, self.response_size),
        )


class RequestLogBuffer:
    def __init__(self, store: RequestLogStore, body_cap: int) -> None:
        self.store = store
        self.body_cap = body_cap
        self._rings: dict[str, deque[CapturedRequest]] = {}
        self._pending = 0
        # One flush at a time, each writing what it took before the next takes more: the log's
        # order is its pks' order, and the trim keeps the highest.
        self._flushing = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    async def add(self, entry: CapturedRequest) -> None:
        tenant_id = entry.entry.tenant_id
        ring = self._rings.get(tenant_id)
        if ring is None:
            ring = self._rings[tenant_id] = deque(maxlen=max(self.store.keep, 1))
        if len(ring) < (ring.maxlen or 0):
            self._pending += 1
        ring.append(entry)
        if self._pending >= MAX_PENDING:
            if self._task is None or self._task.done():
                await self.flush()  # no flusher task: the app's lifespan is not running
            else:
                self._wake.set()  # the request does not wait for the flush

    async def flush(self) -> None:
        async with self._flushing:
            rings, self._rings, self._pending = self._rings, {}, 0
            entries = [entry for ring in rings.values() for entry in ring]
            try:
                await self.store.append(await self._redacted(entries))
            except Exception:  # a debugging aid must never take the server down
                log.exception("could not write %d request-log entries", len(entries))

    async def _redacted(self, entries: list[CapturedRequest]) -> list[LoggedRequest]:
        logged: list[LoggedRequest] = []
        since = time.perf_counter()
        for entry in entries:
            logged.append(entry.logged(self.body_cap))
            if time.perf_counter() - since > REDACT_SLICE:
                await asyncio.sleep(0)  # requests run between slices: a flush never stalls them long
                since = time.perf_counter()
        return logged

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="scimhub-request-log")

    async def stop(self) -> None:
        """Let the flush in progress finish (cancelling it would drop what it took), then flush."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), FLUSH_EVERY)
            self._wake.clear()
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
                CapturedRequest(
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
                        error=None,
                        request_body=None,
                        response_body=None,
                        ignored=_ignored(scope),
                    ),
                    # A body the log cuts is redacted now, so that a ring holds no large bodies
                    # (at most a few ms: the redaction reads a window of it and stops at the cap).
                    request_body=bytes(request_body)
                    if len(request_body) <= cap
                    else redact_body(bytes(request_body), cap),
                    response_body=bytes(response_body),
                    response_size=response_size,
                )
            )


def _ignored(scope: Scope) -> str | None:
    """The unknown attribute names the request's write ignored (set by the endpoint), as JSON."""
    names = scope.get(IGNORED_KEY)
    return orjson.dumps(list(names)).decode() if names else None
