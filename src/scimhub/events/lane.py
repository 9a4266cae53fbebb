"""A lane: the deliveries of one leased webhook, event after event, recorded in batches.

The worker runs a lane per leased webhook, so a slow receiver holds up its own webhook only.
A lane sends the next event as soon as the previous one is accepted, and records what it sent
in one transaction per RECORD_EVERY attempts (or RECORD_AFTER_SECONDS, or when nothing is
left): a database round trip per event cost more than the POST. It stops at the first failure
(the retry waits for its backoff), when the webhook has nothing left, or after LANE_EVENTS.

A crash loses the unrecorded attempts: those events are sent again (at least once, as always;
receivers de-duplicate on ``webhook-id``). Before each attempt the lease must outlast the
attempt's deadline by RENEW_BELOW_SECONDS, else the lane records (which renews) first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from scimhub.events.model import Event
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import Outcome
from scimhub.store.events_sql import Webhook
from scimhub.store.events_sql import cursor_after
from scimhub.timestamps import format_instant

if TYPE_CHECKING:
    from scimhub.events.worker import DeliveryWorker

log = logging.getLogger("scimhub.webhooks")

LANE_EVENTS = 100  # events one lease sends back to back before the webhook queues up again
PREFETCH = 32  # events a lane reads ahead of its cursor at once
RECORD_EVERY = 16  # attempts recorded in one transaction, at most
RECORD_AFTER_SECONDS = 1.0  # ... and none left unrecorded longer than this
RENEW_BELOW_SECONDS = 1.0  # record (and renew) before an attempt the lease might not outlast by this


class Lane:
    """One leased webhook, from its claim to the release of its lease."""

    def __init__(self, worker: DeliveryWorker, claim: Claim, lease_end: float) -> None:
        self.worker = worker
        self.claim = claim
        self.lease_end = lease_end  # monotonic; the database's lease ends no earlier
        self.recorded: Webhook = claim.webhook  # as of the last record: its cursor guards the next
        self.pending: list[Attempt] = []
        self.pending_since = 0.0
        self.ahead: deque[Event] = deque()

    async def run(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            # Stopped in the middle of a POST: what was sent before is recorded; that one is
            # sent again later.
            if self.pending:
                await self._record(keep=False)
            else:
                await self.worker.store.release(self.recorded.id, self.worker.owner)
            raise

    async def _run(self) -> None:
        for sent in range(1, LANE_EVENTS + 1):
            if not self._lease_lasts() and not await self._record(keep=True):
                return
            attempt, retry_at = await self.worker.attempt(self.claim)
            if not self.pending:
                self.pending_since = time.monotonic()
            self.pending.append(attempt)
            following = await self._following(attempt, sent)
            if following is None or self._record_due():
                recorded = await self._record(retry_at, keep=following is not None)
                if not recorded or following is None:
                    return
            self.claim = following

    def _lease_lasts(self) -> bool:
        """Whether the lease outlasts an attempt started now (deadline + RENEW_BELOW_SECONDS)."""
        return self.lease_end - time.monotonic() >= self.worker.sender.timeout + RENEW_BELOW_SECONDS

    def _record_due(self) -> bool:
        return len(self.pending) >= RECORD_EVERY or time.monotonic() - self.pending_since >= RECORD_AFTER_SECONDS

    async def _following(self, attempt: Attempt, sent: int) -> Claim | None:
        """The next event to send, after an accepted one (read ahead PREFETCH at a time)."""
        if attempt.outcome is not Outcome.DELIVERED or self.worker.stopping or sent >= LANE_EVENTS:
            return None
        if not self.ahead:
            self.ahead.extend(await self.worker.store.events_after(self.claim.webhook.tenant_id, attempt.seq, PREFETCH))
        return Claim(self.claim.webhook, self.ahead.popleft(), 1) if self.ahead else None

    async def _record(self, retry_at: str | None = None, *, keep: bool) -> bool:
        """Log the pending attempts and move the cursor; keep the lease (renewed) or give it back.
        False when the lease was lost (or the webhook removed): the lane must stop."""
        worker = self.worker
        renewed_end = time.monotonic() + worker.lease.total_seconds()
        keep_until = format_instant(worker.clock() + worker.lease) if keep else None
        if self.pending:
            done = await worker.store.finish(self.recorded, self.pending, worker.owner, retry_at, keep_until)
        else:
            assert keep_until is not None, "an empty record only renews"
            done = await worker.store.renew(self.recorded.id, worker.owner, keep_until)
        if not done:
            log.warning("webhook %s: lease lost or webhook removed at seq %s", self.recorded.id, self.claim.event.seq)
            return False
        if self.pending:
            for attempt in self.pending:
                _log_attempt(attempt)
            self.recorded = cursor_after(self.recorded, self.pending)
            self.pending = []
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
