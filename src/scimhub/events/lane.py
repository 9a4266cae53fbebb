"""A lane: the deliveries of one leased webhook, event after event.

The worker runs a lane per leased webhook, so a slow receiver holds up its own webhook only.
A lane sends the next event as soon as the previous one is accepted and recorded (no poll in
between), and stops at the first failure (the retry waits for its backoff), when the webhook
has nothing left, or after LANE_EVENTS (the webhook queues up again behind the others).

Each attempt is recorded before the next is sent: a process killed at any point re-sends only
the event it was sending (recording a batch at once would be faster, but a crash would then
send acknowledged events again). The record keeps the lease for the next event, renewed; before
each attempt the lease must outlast the attempt's deadline by RENEW_BELOW_SECONDS, else it is
renewed first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import replace
from typing import TYPE_CHECKING

from scimhub.events.model import Event
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import Outcome
from scimhub.timestamps import format_instant

if TYPE_CHECKING:
    from scimhub.events.worker import DeliveryWorker

log = logging.getLogger("scimhub.webhooks")

LANE_EVENTS = 100  # events one lease sends back to back before the webhook queues up again
PREFETCH = 32  # events a lane reads ahead of its cursor at once
RENEW_BELOW_SECONDS = 1.0  # renew before an attempt the lease might not outlast by this


class Lane:
    """One leased webhook, from its claim to the release of its lease."""

    def __init__(self, worker: DeliveryWorker, claim: Claim, lease_end: float) -> None:
        self.worker = worker
        self.claim = claim
        self.lease_end = lease_end  # monotonic; the database's lease ends no earlier
        self.ahead: deque[Event] = deque()

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            # Stopped in the middle of a POST: nothing is recorded, the event is sent again later.
            await self.worker.store.release(self.claim.webhook.id, self.worker.owner)
            raise

    async def _run(self) -> None:
        for sent in range(1, LANE_EVENTS + 1):
            if not self._lease_lasts() and not await self._renew():
                return
            attempt, retry_at = await self.worker.attempt(self.claim)
            following = await self._following(attempt, sent)
            if not await self._record(attempt, retry_at, keep=following is not None) or following is None:
                return
            self.claim = following

    def _lease_lasts(self) -> bool:
        """Whether the lease outlasts an attempt started now (deadline + RENEW_BELOW_SECONDS)."""
        return self.lease_end - time.monotonic() >= self.worker.sender.timeout + RENEW_BELOW_SECONDS

    async def _renew(self) -> bool:
        worker = self.worker
        renewed_end = time.monotonic() + worker.lease.total_seconds()
        if not await worker.store.renew(
            self.claim.webhook.id, worker.owner, format_instant(worker.clock() + worker.lease)
        ):
            log.warning("webhook %s: lease lost before seq %s", self.claim.webhook.id, self.claim.event.seq)
            return False
        self.lease_end = renewed_end
        return True

    async def _following(self, attempt: Attempt, sent: int) -> Claim | None:
        """The claim on the next event, after an accepted one (read ahead PREFETCH at a time)."""
        if attempt.outcome is not Outcome.DELIVERED or self.worker.stopping or sent >= LANE_EVENTS:
            return None
        webhook = self.claim.webhook
        if not self.ahead:
            self.ahead.extend(await self.worker.store.events_after(webhook.tenant_id, attempt.seq, PREFETCH))
        if not self.ahead:
            return None
        moved = replace(webhook, delivered_seq=attempt.seq, attempts=0, next_attempt_at=None)
        return Claim(moved, self.ahead.popleft(), 1)

    async def _record(self, attempt: Attempt, retry_at: str | None, *, keep: bool) -> bool:
        """Log the attempt and move the cursor; keep the lease (renewed) or give it back. False
        when the lease was lost (or the webhook removed): the lane must stop."""
        worker = self.worker
        renewed_end = time.monotonic() + worker.lease.total_seconds()
        keep_until = format_instant(worker.clock() + worker.lease) if keep else None
        if not await worker.store.finish(self.claim, attempt, worker.owner, retry_at, keep_until):
            log.warning("webhook %s: lease lost or webhook removed at seq %s", attempt.webhook_id, attempt.seq)
            return False
        _log_attempt(attempt)
        self.lease_end = renewed_end
        return True


def _log_attempt(attempt: Attempt) -> None:
    level = logging.INFO if attempt.outcome is Outcome.DELIVERED else logging.WARNING
    log.log(
        level,
        "webhook %s seq %s attempt %s: %s (%s, %s ms)",
        attempt.webhook_id,
        attempt.seq,
        attempt.attempt,
        attempt.outcome.value,
        attempt.status_code or attempt.error,
        attempt.latency_ms,
    )
