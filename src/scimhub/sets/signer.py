"""SetSigner: an outbox event as the signed SET of one stream (push, poll and redelivery)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from datetime import datetime

from scimhub.events.model import Event
from scimhub.sets.claims import Audience
from scimhub.sets.claims import set_claims
from scimhub.sets.keys import sign
from scimhub.store.sets_sql import Stream
from scimhub.store.sets_sql import StreamStore
from scimhub.timestamps import format_instant


class SetSigner:
    """Signs with the tenant's active key (made on first use); ``endpoints``: resource type →
    its SCIM endpoint, for ``sub_id.uri``."""

    def __init__(self, streams: StreamStore, endpoints: Mapping[str, str], clock: Callable[[], datetime]) -> None:
        self.streams = streams
        self.endpoints = endpoints
        self.clock = clock

    async def sign(self, stream: Stream, events: list[Event]) -> dict[str, str]:
        """jti → compact JWS, for each event, in order."""
        if not events:
            return {}
        now = self.clock()
        key = await self.streams.active_key(stream.tenant_id, format_instant(now))
        audience = Audience(stream.id, stream.issuer, stream.audience, stream.full)
        signed = {}
        for event in events:
            claims = set_claims(event, audience, self.endpoints, int(now.timestamp()))
            signed[str(claims["jti"])] = sign(key, claims)
        return signed
