"""DeliveryWorker: pushes each tenant's events to its webhooks, in order, at least once.

Per webhook the worker delivers the event after the consumer cursor (``delivered_seq``), one at
a time (head of line). An attempt is three steps, so that no network I/O happens inside a
database transaction: lease the webhook and read the head event (commit); POST it, signed as
Standard Webhooks v1 with ``webhook-id`` = the event id (stable across retries, so receivers
de-duplicate on it); record the outcome in a new short transaction. A failure is retried with
exponential backoff and jitter; after ``webhook_max_attempts`` the event is dead-lettered and
the cursor moves on. The worker wakes on every local commit and polls for other processes'.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import httpx2
import orjson

from scimhub.events.model import Event
from scimhub.events.signing import webhook_headers
from scimhub.settings import Settings
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.timestamps import format_instant

log = logging.getLogger("scimhub.webhooks")

CLAIM_BATCH = 16  # webhooks leased (and delivered concurrently) per round
PURGE_INTERVAL = timedelta(hours=1)
_ERROR_CHARS = 300


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with "equal jitter": the n-th retry waits between half and all of
    ``min(cap, base * 2**(n-1))`` seconds, so retries of many webhooks spread out."""

    base: float
    cap: float

    def delay(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** max(attempt - 1, 0))
        return ceiling / 2 + rand() * ceiling / 2


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one POST came to: the status (None when no response) or the error, and the latency."""

    status_code: int | None
    error: str | None
    latency_ms: int

    @property
    def ok(self) -> bool:
        """Standard Webhooks: any 2xx acknowledges the message; redirects are not followed."""
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    """Signs and POSTs one event; shared by the worker, redelivery, the CLI and the admin API."""

    def __init__(self, timeout: float, transport: httpx2.AsyncBaseTransport | None = None) -> None:
        self.timeout = timeout
        self.transport = transport

    def client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(timeout=self.timeout, transport=self.transport, follow_redirects=False)

    async def send(self, client: httpx2.AsyncClient, url: str, secret: str, event: Event) -> SendResult:
        """POST the event JSON with the three Standard Webhooks headers; never raises for I/O."""
        body = orjson.dumps(event.to_json())
        headers = {
            "content-type": "application/json",
            "user-agent": "scimhub-webhooks",
            **webhook_headers(secret, event.id, int(time.time()), body),
        }
        started = time.perf_counter()
        try:
            async with client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
        except (httpx2.HTTPError, httpx2.InvalidURL) as exc:
            return SendResult(None, f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS], _ms_since(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return SendResult(status, error, _ms_since(started))


async def pause(wake: asyncio.Event, seconds: float) -> None:
    """Sleep up to ``seconds``, or until ``wake`` is set; then clear it.

    ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` can swallow a cancellation.
    """
    try:
        async with asyncio.timeout(seconds):
            await wake.wait()
    except TimeoutError:
        pass
    wake.clear()


async def stop_task(task: asyncio.Task[None], grace: float) -> None:
    """Let ``task`` end by itself within ``grace`` seconds, else cancel it; never wait unbounded."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.error("%s did not stop within %.0f s", task.get_name(), 2 * grace)


def _ms_since(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _owner_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    """The background delivery loop of one process (started by the app's lifespan)."""

    def __init__(
        self,
        store: EventStore,
        settings: Settings,
        *,
        sender: Sender | None = None,
        clock: Callable[[], datetime] = _now,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.settings = settings
        self.sender = sender or Sender(settings.webhook_timeout_seconds)
        self.backoff = Backoff(settings.webhook_backoff_base_seconds, settings.webhook_backoff_max_seconds)
        self.owner = _owner_id()
        self.clock = clock
        self.rand = rand
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._client: httpx2.AsyncClient | None = None
        self._last_purge: datetime | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    def wake(self) -> None:
        """Called after every local commit: deliver now instead of at the next poll.

        Not while a recent "no webhook anywhere" holds: waking for nothing cost a loop turn, a
        timeout and a probe per write. The first commit after it lapses wakes the worker."""
        if not self.store.no_webhooks_known():
            self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._client = self.sender.client()
        self._task = asyncio.create_task(self._loop(), name="scimhub-webhook-worker")

    async def stop(self) -> None:
        """Finish the attempt in flight (its POST and bookkeeping), then stop; cancel after a grace."""
        self._stopping = True
        self.wake()
        if self._task is not None:
            await stop_task(self._task, self.settings.webhook_timeout_seconds + 2)
            self._task = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- the loop ------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._purge_if_due()
                while not self._stopping and await self.run_once():
                    pass
                await self._sleep()
            except Exception:
                log.exception("webhook worker round failed; retrying after the poll interval")
                await asyncio.sleep(self.settings.worker_poll_seconds)

    async def run_once(self) -> int:
        """Lease the due webhooks and make one attempt on each; returns how many were leased."""
        if not await self.store.has_webhooks():
            return 0
        now = self.clock()
        lease = timedelta(seconds=self.settings.webhook_timeout_seconds + 5)
        claims = await self.store.claim(self.owner, format_instant(now), format_instant(now + lease), CLAIM_BATCH)
        if claims:
            client = self._client or self.sender.client()
            try:
                await asyncio.gather(*(self._deliver(client, c) for c in claims))
            finally:
                if client is not self._client:
                    await client.aclose()
        return len(claims)

    async def _sleep(self) -> None:
        delay = self.settings.worker_poll_seconds
        now = self.clock()
        retry_at = await self.store.next_retry_at(format_instant(now)) if await self.store.has_webhooks() else None
        if retry_at is not None:
            delay = min(delay, max(0.0, (datetime.fromisoformat(retry_at) - now).total_seconds()))
        await pause(self._wake, delay)

    # -- one attempt ---------------------------------------------------------------------------
    async def _deliver(self, client: httpx2.AsyncClient, claim: Claim) -> None:
        try:
            result = await self.sender.send(client, claim.webhook.url, claim.webhook.secret, claim.event)
        except asyncio.CancelledError:
            # Stopped in the middle of a POST: nothing is recorded, the event is sent again later.
            await self.store.release(claim.webhook.id, self.owner)
            raise
        attempt, retry_at = self._outcome(claim, result)
        if not await self.store.finish(claim, attempt, self.owner, retry_at):
            log.warning(
                "webhook %s: lease lost or webhook removed during attempt on seq %s", claim.webhook.id, claim.event.seq
            )
        _log_attempt(claim, attempt)

    def _outcome(self, claim: Claim, result: SendResult) -> tuple[Attempt, str | None]:
        now = self.clock()
        retry_at = None
        if result.ok:
            outcome = Outcome.DELIVERED
        elif claim.attempt >= self.settings.webhook_max_attempts:
            outcome = Outcome.DEAD
        else:
            outcome = Outcome.RETRY
            retry_at = format_instant(now + timedelta(seconds=self.backoff.delay(claim.attempt, self.rand)))
        attempt = Attempt(
            webhook_id=claim.webhook.id,
            tenant_id=claim.webhook.tenant_id,
            seq=claim.event.seq,
            event_id=claim.event.id,
            attempt=claim.attempt,
            attempted_at=format_instant(now),
            outcome=outcome,
            status_code=result.status_code,
            error=result.error,
            latency_ms=result.latency_ms,
        )
        return attempt, retry_at

    # -- retention -----------------------------------------------------------------------------
    async def _purge_if_due(self) -> None:
        now = self.clock()
        if self._last_purge is not None and now - self._last_purge < PURGE_INTERVAL:
            return
        self._last_purge = now
        counts = await self.store.purge(
            _cutoff(now, self.settings.event_retention_days), _cutoff(now, self.settings.audit_retention_days)
        )
        if counts.events or counts.attempts or counts.audit:
            log.info(
                "retention purge: %s events, %s delivery-log rows, %s audit entries",
                counts.events,
                counts.attempts,
                counts.audit,
            )


def _cutoff(now: datetime, days: int) -> str | None:
    """The retention cut-off for ``days`` (0 keeps everything)."""
    return None if days <= 0 else format_instant(now - timedelta(days=days))


def _log_attempt(claim: Claim, attempt: Attempt) -> None:
    level = logging.INFO if attempt.outcome is Outcome.DELIVERED else logging.WARNING
    log.log(
        level,
        "webhook %s seq %s attempt %s: %s (%s, %s ms)",
        claim.webhook.id,
        attempt.seq,
        attempt.attempt,
        attempt.outcome.value,
        attempt.status_code or attempt.error,
        attempt.latency_ms,
    )
