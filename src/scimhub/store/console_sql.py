"""The console's reads that no other store offers, each bounded: a tenant's last event seq, and
one resource's entries among a tenant's latest events and audit rows.

Nothing here reads a whole tenant: a resource's history is looked for in the tenant's last
``window`` events / audit rows only (both are walked by their primary-key order, which their
indexes give), so the console says "in the last N" instead of scanning a year of history.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from scimhub.events.model import Event
from scimhub.store.base import normalise_audit_detail
from scimhub.store.database import Database
from scimhub.store.tables import audit_log
from scimhub.store.tables import events
from scimhub.store.tables import tenant_event_seq

HISTORY_WINDOW = 1000


class ConsoleQueries:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def last_seq(self, tenant_id: str) -> int:
        stmt = select(tenant_event_seq.c.last_seq).where(tenant_event_seq.c.tenant_id == tenant_id)
        async with self.db.read() as tx:
            return int((await tx.execute(stmt)).scalar() or 0)

    async def events_of(self, tenant_id: str, resource_id: str, window: int = HISTORY_WINDOW) -> list[Event]:
        """The resource's events among the tenant's last ``window`` (newest first)."""
        last = await self.last_seq(tenant_id)
        stmt = (
            select(events)
            .where(events.c.tenant_id == tenant_id, events.c.seq > last - window, events.c.resource_id == resource_id)
            .order_by(events.c.seq.desc())
        )
        async with self.db.read() as tx:
            rows = (await tx.execute(stmt)).all()
        return [Event(r.tenant_id, r.seq, r.id, r.type, orjson.loads(r.payload)) for r in rows]

    async def audit_of(self, tenant_id: str, resource_id: str, window: int = HISTORY_WINDOW) -> list[dict[str, Any]]:
        """The resource's audit rows among the tenant's last ``window`` (newest first)."""
        latest = (
            select(audit_log.c.pk)
            .where(audit_log.c.tenant_id == tenant_id)
            .order_by(audit_log.c.pk.desc())
            .limit(window)
            .subquery()
        )
        stmt = (
            select(audit_log)
            .where(audit_log.c.pk.in_(select(latest.c.pk)), audit_log.c.resource_id == resource_id)
            .order_by(audit_log.c.pk.desc())
        )
        async with self.db.read() as tx:
            rows = (await tx.execute(stmt)).all()
        return [
            {
                "id": r.pk,
                "occurredAt": r.occurred_at,
                "method": r.method,
                "path": r.path,
                "status": r.status,
                "tokenId": r.token_id,
                "detail": normalise_audit_detail(orjson.loads(r.detail) if r.detail else None),
            }
            for r in rows
        ]
