"""DeliveryWorker: pushes each tenant's events to its webhooks, in order, at least once.

Per webhook the worker delivers the events after the consumer cursor (``delivered_seq``) one at
a time, in seq order (head of line), by whichever process holds the webhook's lease. No network
I/O happens inside a database transaction: lease the webhook and read its head event (commit);
POST it, signed as Standard Webhooks v1 with ``webhook-id`` = the event id (stable across
retries, so receivers de-duplicate on it); record the outcome in a new short transaction.

Each leased webhook is served by a lane of its own (``scimhub.events.lane``: a task; at most
``webhook_concurrency`` per process), so a slow or dead receiver holds up only its own webhook.
A lane sends the next event as soon as the previous one is accepted and recorded, without
waiting for a poll. Every attempt (connect, send, the whole response)
has one deadline, ``webhook_timeout_seconds``; the lease outlasts it by LEASE_MARGIN_SECONDS and
is renewed before any attempt it might not outlast, so no other process can take the webhook
over while an attempt is still within its deadline. A failure is retried with exponential
backoff and jitter; after ``webhook_max_attempts`` the event is dead-lettered and the cursor
moves on. The worker wakes on every local commit and polls for other processes'.
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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import httpx2

from scimhub.events.lane import Lane
from scimhub.events.lane import pause
from scimhub.events.model import Event
from scimhub.events.queue import DeliveryQueue
from scimhub.events.sender import Sender
from scimhub.events.sender import SendResult
from scimhub.settings import Settings
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import Outcome
from scimhub.store.events_sql import Webhook
from scimhub.timestamps import format_instant

log = logging.getLogger("scimhub.webhooks")

LEASE_MARGIN_SECONDS = 5.0  # a lease outlasts the attempt deadline by this (bookkeeping, clock skew)
PURGE_INTERVAL = timedelta(hours=1)


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


async def stop_task(task: asyncio.Task[None], grace: float) -> None:
    """Let ``task`` end by itself within ``grace`` seconds, else cancel it; never wait unbounded."""
    done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=grace)
    if not done:
        log.error("%s did not stop within %.0f s", task.get_name(), 2 * grace)


def _owner_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeliveryWorker:
    """The background delivery loop of one process (started by the app's lifespan)."""

    def __init__(
        self,
        store: DeliveryQueue,
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
        self.lease = timedelta(seconds=self.sender.timeout + LEASE_MARGIN_SECONDS)
        self.owner = _owner_id()
        self.clock = clock
        self.rand = rand
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._lanes: set[asyncio.Task[None]] = set()
        self._lingering: dict[Lane, str] = {}  # lanes waiting for their tenant's next commit -> tenant
        self._clients: dict[bool, httpx2.AsyncClient] = {}  # public_only -> client, made on first use
        self._last_purge: datetime | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping

    def wake(self, tenant_id: str | None = None) -> None:
        """Called after every local commit (of ``tenant_id``; None: of any tenant, or a released
        hold): deliver now instead of at the next poll. The lanes lingering on the tenant's
        webhooks read its new events at once; the loop claims the webhooks no lane holds.

        Not while a recent "no webhook anywhere" holds: waking for nothing cost a loop turn, a
        timeout and a probe per write. The first commit after it lapses wakes the worker."""
        for lane, tenant in self._lingering.items():
            if tenant_id is None or tenant == tenant_id:
                lane.signal.set()
        if not self.store.no_webhooks_known():
            self._wake.set()

    def linger(self, lane: Lane, tenant_id: str) -> None:
        """``lane`` waits for a commit of ``tenant_id`` (``wake`` sets its signal)."""
        self._lingering[lane] = tenant_id

    def unlinger(self, lane: Lane) -> None:
        self._lingering.pop(lane, None)

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._loop(), name="scimhub-webhook-worker")

    async def stop(self) -> None:
        """Let the attempts in flight finish (POST and bookkeeping), then stop; cancel after a grace."""
        self._stopping = True
        self._wake.set()
        for waiting in self._lingering:  # lanes waiting for commits end now
            waiting.signal.set()
        grace = self.sender.timeout + 2
        if self._task is not None:
            await stop_task(self._task, grace)
            self._task = None
        if self._lanes:
            await asyncio.wait(set(self._lanes), timeout=grace)
        for lane in set(self._lanes):  # past the deadline and the grace: cancelled, lease given back
            await stop_task(lane, 1.0)
        await self._close_clients()

    # -- the loop ------------------------------------------------------------------------------
    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._purge_if_due()
                now = self.clock()  # one instant for the round's claim and its sleep
                await self.dispatch(now)
                await self._sleep(now)
            except Exception:
                log.exception("webhook worker round failed; retrying after the poll interval")
                await asyncio.sleep(self.settings.worker_poll_seconds)

    async def dispatch(self, now: datetime | None = None) -> int:
        """Lease due webhooks for the free lanes and start a lane on each; never waits for one.
        Returns how many were leased. A lane that ends wakes the loop, which fills it again."""
        free = self.settings.webhook_concurrency - len(self._lanes)
        if free <= 0 and self._lingering:
            await self._evict_if_due()
        claims, lease_end = await self._claim(free, now)
        for claim in claims:
            runner = Lane(self, claim, lease_end, linger=True).run()
            lane = asyncio.create_task(runner, name=f"scimhub-webhook-{claim.webhook.id}")
            self._lanes.add(lane)
            lane.add_done_callback(self._lane_done)
        return len(claims)

    async def run_once(self) -> int:
        """Lease the due webhooks and serve each until nothing is due for it (or LANE_EVENTS);
        returns how many were leased. For tests and tools: the loop does not wait for lanes."""
        try:
            claims, lease_end = await self._claim(self.settings.webhook_concurrency)
            await asyncio.gather(*(Lane(self, claim, lease_end).run() for claim in claims))
        finally:
            if self._task is None:  # not started: nothing else uses the clients
                await self._close_clients()
        return len(claims)

    async def _evict_if_due(self) -> None:
        """Every lane is taken and some only wait for commits: if another webhook is due, end the
        longest-waiting one (it gives its lease back; its end wakes the loop, which claims)."""
        if await self.store.has_due(format_instant(self.clock())):
            next(iter(self._lingering)).evict()

    async def _claim(self, limit: int, now: datetime | None = None) -> tuple[list[Claim], float]:
        """Up to ``limit`` leased webhooks, and the monotonic time their leases end (at the latest)."""
        if limit <= 0 or not await self.store.has_webhooks():
            return [], 0.0
        lease_end = time.monotonic() + self.lease.total_seconds()
        now = now or self.clock()
        claims = await self.store.claim(self.owner, format_instant(now), format_instant(now + self.lease), limit)
        return claims, lease_end

    def _lane_done(self, lane: asyncio.Task[None]) -> None:
        self._lanes.discard(lane)
        self._wake.set()  # a lane is free, or its webhook has events again
        if not lane.cancelled() and (exc := lane.exception()) is not None:
            # The lease is not given back: it expires, and the webhook is served again.
            log.error("webhook lane %s failed", lane.get_name(), exc_info=exc)

    async def _sleep(self, claimed_at: datetime | None = None) -> None:
        """Until the next poll, a wake-up, or the earliest retry not due at ``claimed_at`` (the
        round's claim: a retry that fell due since, the claim did not see, is due now)."""
        delay = self.settings.worker_poll_seconds
        since = claimed_at or self.clock()
        retry_at = await self.store.next_retry_at(format_instant(since)) if await self.store.has_webhooks() else None
        if retry_at is not None:
            delay = min(delay, max(0.0, (datetime.fromisoformat(retry_at) - self.clock()).total_seconds()))
        await pause(self._wake, delay)

    # -- one attempt --------------------------------------------------------------------------
    def _client_for(self, webhook: Webhook) -> httpx2.AsyncClient:
        public_only = not webhook.allow_private
        if public_only not in self._clients:
            self._clients[public_only] = self.sender.client(public_only=public_only)
        return self._clients[public_only]

    async def _close_clients(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    async def attempt_events(
        self, webhook: Webhook, events: Sequence[Event], attempt: int
    ) -> tuple[list[Attempt], str | None]:
        """POST the first of ``events`` (or, for a batch webhook, as many as one request takes):
        the attempts to record, one per event sent, and when to retry them (if so)."""
        if webhook.batch <= 1 or len(events) == 1:
            made, retry_at = await self.attempt(Claim(webhook, events[0], attempt))
            return [made], retry_at
        result, count = await self.sender.send_batch(self._client_for(webhook), webhook.url, webhook.secret, events)
        return self._outcomes(webhook, events[:count], attempt, result)

    async def attempt(self, claim: Claim) -> tuple[Attempt, str | None]:
        """POST the claimed event once: the attempt to record, and when to retry it (if so)."""
        result = await self.sender.send(
            self._client_for(claim.webhook), claim.webhook.url, claim.webhook.secret, claim.event
        )
        return self._outcome(claim, result)

    def _outcome(self, claim: Claim, result: SendResult) -> tuple[Attempt, str | None]:
        (made,), retry_at = self._outcomes(claim.webhook, [claim.event], claim.attempt, result)
        return made, retry_at

    def _outcomes(
        self, webhook: Webhook, events: Sequence[Event], attempt: int, result: SendResult
    ) -> tuple[list[Attempt], str | None]:
        """One request's outcome as a delivery-log row per event it carried."""
        now = self.clock()
        retry_at = None
        if result.ok:
            outcome = Outcome.DELIVERED
        elif attempt >= self.settings.webhook_max_attempts:
            outcome = Outcome.DEAD
        else:
            outcome = Outcome.RETRY
            retry_at = format_instant(now + timedelta(seconds=self.backoff.delay(attempt, self.rand)))
        at = format_instant(now)
        made = [
            Attempt(
                webhook_id=webhook.id,
                tenant_id=webhook.tenant_id,
                seq=event.seq,
                event_id=event.id,
                attempt=attempt,
                attempted_at=at,
                outcome=outcome,
                status_code=result.status_code,
                error=result.error,
                latency_ms=result.latency_ms,
            )
            for event in events
        ]
        return made, retry_at

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
