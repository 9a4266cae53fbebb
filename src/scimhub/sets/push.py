"""RFC 8935 push delivery of SETs, by the webhook worker's machinery.

``StreamWorker`` is the webhook ``DeliveryWorker`` over a ``StreamStore``: the same lanes (one
per leased stream, in seq order, each attempt recorded before the next), the same per-attempt
deadline, backoff, dead letters and public-only destinations. Only the attempt differs: the
event is signed as a SET with the tenant's active key and POSTed as ``application/secevent+jwt``
(RFC 8935 §2); the receiver acknowledges with 202 Accepted (any 2xx is taken as accepted).
"""

from __future__ import annotations

from dataclasses import replace

import httpx2

from scimhub.events.model import Event
from scimhub.events.sender import Sender
from scimhub.events.sender import SendResult
from scimhub.events.worker import DeliveryWorker
from scimhub.sets.signer import SetSigner
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import DeadLetter
from scimhub.store.events_sql import Outcome
from scimhub.store.sets_sql import Stream
from scimhub.timestamps import utc_now

SET_MEDIA_TYPE = "application/secevent+jwt"  # RFC 8417 §7.2; RFC 8935 §2


class StreamWorker(DeliveryWorker):
    """Delivers each push stream's SETs, in order, at least once."""

    signer: SetSigner

    @classmethod
    def over(cls, signer: SetSigner, worker: DeliveryWorker) -> StreamWorker:
        """A worker with ``worker``'s settings, sender, clock and randomness."""
        made = cls(signer.streams, worker.settings, sender=worker.sender, clock=worker.clock, rand=worker.rand)
        made.signer = signer
        return made

    async def attempt(self, claim: Claim) -> tuple[Attempt, str | None]:
        stream = await self.signer.streams.get_stream(claim.webhook.id)
        if stream is None:  # removed meanwhile: finish() will find it gone and stop the lane
            return self._outcome(claim, SendResult(None, "The stream was removed.", 0))
        result = await push(self.sender, self._client_for(claim.webhook), self.signer, stream, claim.event)
        return self._outcome(claim, result)


async def push(
    sender: Sender, client: httpx2.AsyncClient, signer: SetSigner, stream: Stream, event: Event
) -> SendResult:
    """POST one SET to the stream's URL within the sender's deadline (RFC 8935 §2)."""
    (token,) = (await signer.sign(stream, [event])).values()
    headers = {"content-type": SET_MEDIA_TYPE, "accept": "application/json", "user-agent": "scimhub-sets"}
    return await sender.post(client, stream.url or "", token.encode(), headers)


async def redeliver(sender: Sender, signer: SetSigner, stream: Stream, seq: int | None = None) -> list[Attempt]:
    """Push a push stream's dead-lettered SETs again, now, in seq order (all, or only ``seq``);
    each try is logged, ``redelivered`` when accepted (as ``events.webhooks.redeliver``)."""
    attempts = []
    async with sender.client(public_only=not stream.allow_private) as client:
        for dead in await signer.streams.dead_letters(stream.id, seq):
            attempt = await _redeliver_one(sender, client, signer, stream, dead)
            await signer.streams.log_attempt(attempt)
            attempts.append(attempt)
    return attempts


async def _redeliver_one(
    sender: Sender, client: httpx2.AsyncClient, signer: SetSigner, stream: Stream, dead: DeadLetter
) -> Attempt:
    base = Attempt(stream.id, stream.tenant_id, dead.seq, dead.event_id, dead.attempts + 1, utc_now(), Outcome.DEAD)
    event = await signer.streams.feed.event(stream.tenant_id, dead.seq)
    if event is None:
        return replace(base, error="The event is no longer retained (SCIMHUB_EVENT_RETENTION_DAYS).")
    result = await push(sender, client, signer, stream, event)
    outcome = Outcome.REDELIVERED if result.ok else Outcome.DEAD
    return replace(
        base, outcome=outcome, status_code=result.status_code, error=result.error, latency_ms=result.latency_ms
    )
