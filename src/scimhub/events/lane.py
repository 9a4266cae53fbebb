"""A lane: the deliveries of one leased webhook, request after request, in seq order.

The worker runs a lane per leased webhook, so a slow receiver holds up its own webhook only.
A lane keeps its lease and sends the next event (or, for a batch webhook, the next batch) as
soon as the previous request is accepted, over the client's kept-alive connection, reading the
webhook's events PAGE at a time. It stops at the first failure (the retry waits for its
backoff) or after LANE_EVENTS (the webhook queues up again behind the others). When the webhook
has nothing left, a lane of the worker's loop keeps the lease up to LINGER_SECONDS and sends the
tenant's next commit at once (``DeliveryWorker.wake`` sets its signal): no claim transaction
stands between a commit and its POST. It gives way earlier when every lane is taken and another
webhook is due (``evict``).

Attempts are recorded in batches: one transaction logs the attempts since the last record, moves
the cursor and renews the lease, once RECORD_EVERY events were delivered unrecorded, once the
oldest of them is RECORD_SECONDS old, at the first failure, and when the lane ends. A process
killed at any point therefore sends again at most the events delivered since its last record
(RECORD_EVERY events, or RECORD_SECONDS of deliveries, whichever came first) plus the request in
flight: at least once, as every receiver must expect. A lane stopped or cancelled records what
it delivered before it gives the lease back. Before each request the lease must outlast the
request's deadline by RENEW_BELOW_SECONDS, else it is renewed first.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from scimhub.events.model import Event
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import Outcome
from scimhub.timestamps import format_instant

if TYPE_CHECKING:
    from scimhub.events.worker import DeliveryWorker


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


log = logging.getLogger("scimhub.webhooks")

LANE_EVENTS = 2000  # events one lease sends back to back before the webhook queues up again
PAGE = 256  # events a lane reads ahead of its cursor at once
RECORD_EVERY = 100  # delivered events a lane may hold unrecorded (what a crash can send again)
RECORD_SECONDS = 0.1  # ... and for at most this long
RENEW_BELOW_SECONDS = 1.0  # renew before an attempt the lease might not outlast by this
LINGER_SECONDS = 1.0  # a lane with nothing left keeps its lease this long for the next commit
LINGER_POLL_SECONDS = 0.25  # ... reading the events meanwhile (another process's commits) this often


class Lane:
    """One leased webhook, from its claim to the release of its lease."""

    def __init__(self, worker: DeliveryWorker, claim: Claim, lease_end: float, *, linger: bool = False) -> None:
        self.worker = worker
        self.lingers = linger  # wait for the next commit when nothing is left (the worker's loop)
        self.signal = asyncio.Event()  # set by worker.wake on a commit of the webhook's tenant
        self.evicted = False
        self.webhook = claim.webhook  # delivered_seq: the cursor as last recorded
        self.attempt = claim.attempt  # the number of the next attempt on the head event
        self.lease_end = lease_end  # monotonic; the database's lease ends no earlier
        self.ahead: deque[Event] = deque([claim.event])
        self.read_to = claim.event.seq  # the last seq read into ``ahead``
        self.unrecorded: list[Attempt] = []
        self.unrecorded_since = 0.0
        self.served_at: str | None = None  # the last attempt's time (the least-recently-served order)

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            # Stopped in the middle of a request: what was accepted before it is recorded, the
            # events in flight are sent again later.
            await self._give_back()
            raise

    async def _give_back(self) -> None:
        store, owner = self.worker.store, self.worker.owner
        if self.unrecorded:
            attempts, self.unrecorded = self.unrecorded, []
            await store.finish(self.webhook, attempts, owner)
        else:
            await store.release(self.webhook.id, owner)

    async def _run(self) -> None:
        sent = 0
        while True:
            if not self._lease_lasts() and not await self._renew():
                await self._record(None, keep=False)
                return
            attempts, retry_at = await self.worker.attempt_events(self.webhook, await self._batch(), self.attempt)
            self._sent(attempts)
            sent += len(attempts)
            more = (
                attempts[-1].outcome is Outcome.DELIVERED
                and not self.worker.stopping
                and sent < LANE_EVENTS
                and await self._more()
            )
            if more and not self._record_due():
                continue
            if more:
                if not await self._record(retry_at, keep=True):
                    return
                continue
            if not self._may_linger(attempts[-1], sent):
                await self._record(retry_at, keep=False)
                return
            if not await self._linger():
                await self._record(None, keep=False)  # gives the lease back
                return

    def evict(self) -> None:
        """Stop waiting for commits: another webhook needs this lane."""
        self.evicted = True
        self.signal.set()

    def _may_linger(self, last: Attempt, sent: int) -> bool:
        stopped = self.worker.stopping or self.evicted
        return self.lingers and last.outcome is Outcome.DELIVERED and not stopped and sent < LANE_EVENTS

    async def _linger(self) -> bool:
        """Nothing left: keep the lease and wait up to LINGER_SECONDS for the tenant's next commit
        (woken by it, reading every LINGER_POLL_SECONDS for other processes' commits), recording
        the attempts not yet recorded once RECORD_SECONDS old. True when events arrived: they are
        sent without a claim (no write before the POST). False when the lease was lost."""
        if not self._lease_lasts() and not await self._renew():  # it must outlast the wait
            return False
        deadline = time.monotonic() + LINGER_SECONDS
        self.worker.linger(self, self.webhook.tenant_id)
        try:
            while not (self.worker.stopping or self.evicted):
                if await self._more():
                    return True
                if self.unrecorded and self._record_due() and not await self._record(None, keep=True):
                    return False
                now = time.monotonic()
                wait = min(deadline - now, LINGER_POLL_SECONDS)
                if self.unrecorded:
                    wait = min(wait, self.unrecorded_since + RECORD_SECONDS - now)
                if now >= deadline:
                    return False
                await pause(self.signal, max(wait, 0.0))
            return False
        finally:
            self.worker.unlinger(self)

    def _lease_lasts(self) -> bool:
        """Whether the lease outlasts an attempt started now (deadline + RENEW_BELOW_SECONDS)."""
        return self.lease_end - time.monotonic() >= self.worker.sender.timeout + RENEW_BELOW_SECONDS

    async def _renew(self) -> bool:
        worker = self.worker
        renewed_end = time.monotonic() + worker.lease.total_seconds()
        if not await worker.store.renew(self.webhook.id, worker.owner, format_instant(worker.clock() + worker.lease)):
            log.warning("webhook %s: lease lost before seq %s", self.webhook.id, self.ahead[0].seq)
            return False
        self.lease_end = renewed_end
        return True

    async def _batch(self) -> list[Event]:
        """The events of the next request: the head event, or up to the webhook's batch size."""
        want = max(1, self.webhook.batch)
        if len(self.ahead) < want:
            await self._read()
        return list(itertools.islice(self.ahead, want))

    async def _more(self) -> bool:
        if not self.ahead:
            await self._read()
        return bool(self.ahead)

    async def _read(self) -> None:
        page = await self.worker.store.events_after(self.webhook.tenant_id, self.read_to, max(PAGE, self.webhook.batch))
        if page:
            self.ahead.extend(page)
            self.read_to = page[-1].seq

    def _sent(self, attempts: Sequence[Attempt]) -> None:
        if attempts[-1].outcome is not Outcome.RETRY:  # delivered or dead-lettered: past them
            for _ in attempts:
                self.ahead.popleft()
            self.attempt = 1
        if not self.unrecorded:
            self.unrecorded_since = time.monotonic()
        self.unrecorded.extend(attempts)
        self.served_at = attempts[-1].attempted_at

    def _record_due(self) -> bool:
        return len(self.unrecorded) >= RECORD_EVERY or time.monotonic() - self.unrecorded_since >= RECORD_SECONDS

    async def _record(self, retry_at: str | None, *, keep: bool) -> bool:
        """Log the attempts since the last record and move the cursor; keep the lease (renewed) or
        give it back. False when the lease was lost (or the webhook removed): the lane must stop."""
        worker = self.worker
        if not self.unrecorded:
            if not keep:
                await worker.store.release(self.webhook.id, worker.owner, self.served_at)
            return keep
        attempts, self.unrecorded = self.unrecorded, []
        renewed_end = time.monotonic() + worker.lease.total_seconds()
        keep_until = format_instant(worker.clock() + worker.lease) if keep else None
        if not await worker.store.finish(self.webhook, attempts, worker.owner, retry_at, keep_until):
            log.warning("webhook %s: lease lost or webhook removed at seq %s", self.webhook.id, attempts[-1].seq)
            return False
        _log_attempts(attempts)
        moved = max([self.webhook.delivered_seq, *(a.seq for a in attempts if a.outcome is not Outcome.RETRY)])
        self.webhook = replace(self.webhook, delivered_seq=moved, attempts=0, next_attempt_at=None)
        self.lease_end = renewed_end
        return True


def _log_attempts(attempts: Sequence[Attempt]) -> None:
    """One line for the events delivered, one per failed request."""
    delivered = [a for a in attempts if a.outcome is Outcome.DELIVERED]
    if delivered and log.isEnabledFor(logging.INFO):
        first, last = delivered[0], delivered[-1]
        log.info(
            "webhook %s seq %s..%s: delivered (%s events, last in %s ms)",
            first.webhook_id,
            first.seq,
            last.seq,
            len(delivered),
            last.latency_ms,
        )
    failed = {a.attempted_at: a for a in attempts if a.outcome is not Outcome.DELIVERED}
    for attempt in failed.values():
        log.warning(
            "webhook %s seq %s attempt %s: %s (%s, %s ms)",
            attempt.webhook_id,
            attempt.seq,
            attempt.attempt,
            attempt.outcome.value,
            attempt.status_code or attempt.error,
            attempt.latency_ms,
        )
