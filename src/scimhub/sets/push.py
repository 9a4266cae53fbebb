"""RFC 8935 push delivery of SETs, by the webhook worker's machinery.

``StreamWorker`` is the webhook ``DeliveryWorker`` over a ``StreamStore``: the same lanes (one
per leased stream, in seq order, each attempt recorded before the next), the same per-attempt
deadline, backoff, dead letters and public-only destinations. Only the attempt differs: the
event is signed as a SET with the tenant's active key and POSTed as ``application/secevent+jwt``
(RFC 8935 §2); the receiver acknowledges with 202 Accepted (any 2xx is taken as accepted).
"""

from __future__ import annotations

from collections.abc import Mapping

from scimhub.events.sender import SendResult
from scimhub.events.worker import DeliveryWorker
from scimhub.sets.claims import Audience
from scimhub.sets.claims import set_claims
from scimhub.sets.keys import sign
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.sets_sql import StreamStore
from scimhub.timestamps import format_instant

SET_MEDIA_TYPE = "application/secevent+jwt"  # RFC 8417 §7.2; RFC 8935 §2


class StreamWorker(DeliveryWorker):
    """Delivers each push stream's SETs, in order, at least once."""

    streams: StreamStore
    endpoints: Mapping[str, str]

    @classmethod
    def over(cls, streams: StreamStore, endpoints: Mapping[str, str], worker: DeliveryWorker) -> StreamWorker:
        """A worker with ``worker``'s settings, sender, clock and randomness."""
        made = cls(streams, worker.settings, sender=worker.sender, clock=worker.clock, rand=worker.rand)
        made.streams = streams
        made.endpoints = endpoints
        return made

    async def attempt(self, claim: Claim) -> tuple[Attempt, str | None]:
        stream = await self.streams.get_stream(claim.webhook.id)
        if stream is None:  # removed meanwhile: finish() will find it gone and stop the lane
            return self._outcome(claim, SendResult(None, "The stream was removed.", 0))
        key = await self.streams.active_key(stream.tenant_id, format_instant(self.clock()))
        audience = Audience(stream.id, stream.issuer, stream.audience, stream.full)
        issued = int(self.clock().timestamp())
        token = sign(key, set_claims(claim.event, audience, self.endpoints, issued))
        headers = {"content-type": SET_MEDIA_TYPE, "accept": "application/json", "user-agent": "scimhub-sets"}
        result = await self.sender.post(self._client_for(claim.webhook), claim.webhook.url, token.encode(), headers)
        return self._outcome(claim, result)
