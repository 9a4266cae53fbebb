"""DeliveryQueue: what the delivery worker and its lanes need of a store.

``EventStore`` answers it for webhooks, ``StreamStore`` for RFC 8935 push streams of SETs
(scimhub.sets): one worker design (lanes, leases, backoff, dead letters) serves both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from scimhub.events.model import Event
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import PurgeCounts
from scimhub.store.events_sql import Webhook


class DeliveryQueue(Protocol):
    async def has_webhooks(self) -> bool: ...

    def no_webhooks_known(self) -> bool: ...

    async def claim(self, owner: str, now: str, lease_until: str, limit: int) -> list[Claim]: ...

    async def finish(
        self,
        webhook: Webhook,
        attempts: Sequence[Attempt],
        owner: str,
        retry_at: str | None = None,
        keep_until: str | None = None,
    ) -> bool: ...

    async def has_due(self, now: str) -> bool: ...

    async def renew(self, webhook_id: str, owner: str, lease_until: str) -> bool: ...

    async def release(self, webhook_id: str, owner: str, served_at: str | None = None) -> None: ...

    async def next_retry_at(self, now: str) -> str | None: ...

    async def events_after(self, tenant_id: str, after: int, limit: int) -> list[Event]: ...

    async def purge(self, events_before: str | None, audit_before: str | None) -> PurgeCounts: ...
