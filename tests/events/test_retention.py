"""Retention: old events, delivery-log rows and audit entries are purged; a webhook's undelivered
events never are; a feed cursor from before the retention window gets 410."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import admin_client
from tests.events.support import create_user

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

FUTURE = "9999-01-01T00:00:00.000Z"


async def test_purged_events_leave_the_feed_and_an_old_cursor_gets_410(
    app: object, acme: TenantAccess, store: SqlStore
) -> None:
    for name in ("alice", "bob", "carol"):
        await create_user(acme.client, name)

    counts = await EventStore.of(store).purge(FUTURE, None)
    await create_user(acme.client, "dave")

    assert counts.events == 3
    async with admin_client(app) as admin:
        expired = await admin.get("/tenants/acme/events", params={"after": 0})
        current = await admin.get("/tenants/acme/events", params={"after": 3})
        audit = await admin.get("/tenants/acme/audit")
    assert expired.status_code == 410
    assert "after=3" in expired.json()["detail"]
    assert [e["seq"] for e in current.json()["events"]] == [4]
    assert len(audit.json()["entries"]) == 4  # audit has its own retention
    assert audit.json()["entries"][0]["events"] == []  # its events are gone, the entry is not


async def test_events_a_webhook_has_not_delivered_are_kept(acme: TenantAccess, store: SqlStore) -> None:
    events = EventStore.of(store)
    await create_user(acme.client, "alice")
    await events.add_webhook("w1", acme.tenant_id, "http://127.0.0.1:9/", "whsec_AAAA", "2026-01-01T00:00:00.000Z")
    await create_user(acme.client, "bob")

    counts = await events.purge(FUTURE, FUTURE)

    assert (counts.events, counts.audit) == (1, 2)
    assert [e.seq for e in await events.events_after(acme.tenant_id, 0, 10)] == [2]


async def test_the_worker_purges_by_the_retention_settings(
    acme: TenantAccess, store: SqlStore, settings: Settings
) -> None:
    await create_user(acme.client, "alice")
    events = EventStore.of(store)
    later = datetime.now(UTC) + timedelta(days=31)
    worker = DeliveryWorker(events, settings, clock=lambda: later)

    await worker._purge_if_due()

    assert await events.events_after(acme.tenant_id, 0, 10) == []
    assert len(await events.audit(acme.tenant_id)) == 1  # 365 days by default
