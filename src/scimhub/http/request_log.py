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
from collections.abc import Collection

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


class CapturedRequest:
    """A request as captured: the fields as the request left them and the raw bodies (references to
    what was sent, cut to the cap), turned into a ``LoggedRequest`` (error found, bodies redacted)
    only when the entry is written: a ring's entries pushed out by newer ones never are."""

    __slots__ = (
        "at",
        "ignored",
        "latency_ms",
        "method",
        "path",
        "query",
        "request_body",
        "request_id",
        "response_body",
        "response_size",
        "status",
        "tenant_id",
        "token_id",
    )

    def __init__(
        self,
        tenant_id: str,
        token_id: str | None,
        request_id: str,
        method: str,
        path: str,
        query: bytes,
        status: int,
        latency_ms: int,
        ignored: Collection[str] | None,
        request_body: bytes | str | None,
        response_body: bytes,
        response_size: int,
    ) -> None:
        self.tenant_id = tenant_id
        self.token_id = token_id
        self.request_id = request_id
        self.method = method
        self.path = path
        self.query = query  # as sent: decoded when written
        self.status = status
        self.latency_ms = latency_ms
        self.ignored = ignored
        self.request_body = request_body  # raw when at most the cap; else already redacted and cut
        self.response_body = response_body  # at most body_cap + 1 bytes
        self.response_size = response_size
        self.at = utc_now()

    def logged(self, cap: int) -> LoggedRequest:
        body = self.request_body
        return LoggedRequest(
            tenant_id=self.tenant_id,
            at=self.at,
            request_id=self.request_id,
            token_id=self.token_id,
            method=self.method,
            path=self.path,
            query=self.query.decode("latin-1") or None,
            status=self.status,
            latency_ms=self.latency_ms,
            error=error_detail(self.response_body) if self.status >= 400 else None,
            request_body=redact_body(body, cap) if isinstance(body, bytes) else body,
            response_body=redact_body(self.response_body, cap, self.response_size),
            ignored=orjson.dumps(list(self.ignored)).decode() if self.ignored else None,
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
        tenant_id = entry.tenant_id
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
        if principal is None or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tee = _Tee(self.buffer.body_cap, receive, send)
        started = time.perf_counter()
        try:
            await self.app(scope, tee.receive, tee.send)
        finally:
            await self.buffer.add(tee.captured(scope, principal, started))


class _Tee:
    """The bodies a request received and sent, and its status, as references (no copy of a body
    at most the cap, the common case): one object a request instead of closures and buffers."""

    __slots__ = ("_receive", "_send", "cap", "request_body", "response_body", "response_size", "status")

    def __init__(self, cap: int, receive: Receive, send: Send) -> None:
        self.cap = cap
        self._receive = receive
        self._send = send
        self.request_body: bytes | bytearray = b""
        self.response_body = b""
        self.response_size = 0
        self.status = 500

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            # Whole: the endpoint holds it too (at most SCIMHUB_MAX_BODY_BYTES are read), and
            # secrets are found in the parsed JSON only; the cap applies after redaction.
            chunk = message.get("body", b"")
            if chunk:
                if not self.request_body:
                    self.request_body = bytes(chunk)  # no copy of bytes
                elif isinstance(self.request_body, bytearray):
                    self.request_body.extend(chunk)
                else:  # a body in several messages: one buffer, extended (not copied per chunk)
                    self.request_body = bytearray(self.request_body) + chunk
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                self.response_size += len(chunk)
                held = self.response_body
                room = self.cap + 1 - len(held)
                if room > 0:
                    part = bytes(chunk[:room]) if len(chunk) > room else bytes(chunk)
                    self.response_body = held + part if held else part
        elif kind == "http.response.start":
            self.status = message["status"]
        await self._send(message)

    def captured(self, scope: Scope, principal: Principal, started: float) -> CapturedRequest:
        cap, body = self.cap, bytes(self.request_body)
        return CapturedRequest(
            principal.tenant_id,
            principal.token_id,
            scope.get("scimhub.request_id", "-"),
            scope["method"],
            scope["path"],
            scope.get("query_string", b""),
            self.status,
            round((time.perf_counter() - started) * 1000),
            scope.get(IGNORED_KEY),
            # A body the log cuts is redacted now, so that a ring holds no large bodies
            # (at most a few ms: the redaction reads a window of it and stops at the cap).
            body if len(body) <= cap else redact_body(body, cap),
            self.response_body,
            self.response_size,
        )
