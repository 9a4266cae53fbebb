"""Retention: old events, delivery-log rows and audit entries are purged; a webhook's undelivered
events never are; a feed cursor from before the retention window gets 410."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import pytest
from sqlalchemy import Connection
from sqlalchemy import text

from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests import databases
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


_SET_EVENT = text("UPDATE events SET occurred_at = :at WHERE tenant_id = :tenant AND seq = :key")
_SET_AUDIT = text("UPDATE audit_log SET occurred_at = :at WHERE pk = :key")


def backdate(store: SqlStore, statement: Any, stamps: dict[int, str], **params: str) -> Any:
    """Set occurred_at of rows by seq or pk (what a slow clock would have written)."""

    def run(conn: Connection) -> None:
        for key, stamp in stamps.items():
            conn.execute(statement, {"at": stamp, "key": key, **params})

    return databases.on_connection(store, run)


def seqs_of(store: SqlStore, tenant_id: str) -> Any:
    query = text("SELECT seq FROM events WHERE tenant_id = :tenant ORDER BY seq")
    return databases.on_connection(store, lambda conn: list(conn.execute(query, {"tenant": tenant_id}).scalars()))


def audit_pks(store: SqlStore) -> Any:
    query = text("SELECT pk FROM audit_log ORDER BY pk")
    return databases.on_connection(store, lambda conn: list(conn.execute(query).scalars()))


OLD, CUT, NEW = "2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"


async def test_only_rows_before_the_cut_off_go_in_each_tenant(
    acme: TenantAccess, globex: TenantAccess, store: SqlStore
) -> None:
    for name in ("a1", "a2", "a3", "a4"):
        await create_user(acme.client, name)
    for name in ("g1", "g2"):
        await create_user(globex.client, name)
    seqs = await seqs_of(store, acme.tenant_id)
    stamps = {seq: OLD if i < 2 else NEW for i, seq in enumerate(seqs)}
    await backdate(store, _SET_EVENT, stamps, tenant=acme.tenant_id)
    await backdate(store, _SET_EVENT, {1: OLD, 2: NEW}, tenant=globex.tenant_id)
    audit = await audit_pks(store)
    await backdate(store, _SET_AUDIT, {pk: OLD if i in (0, 1, 4) else NEW for i, pk in enumerate(audit)})

    counts = await EventStore.of(store).purge(CUT, CUT)

    assert (counts.events, counts.audit) == (3, 2)
    events = EventStore.of(store)
    assert [e.seq for e in await events.events_after(acme.tenant_id, 0, 10)] == seqs[2:]
    assert [e.seq for e in await events.events_after(globex.tenant_id, 0, 10)] == [2]
    # Write order decides: the old entry after a newer one (globex's first write) is kept.
    assert await audit_pks(store) == audit[2:]


async def test_nothing_goes_when_nothing_is_old_enough(acme: TenantAccess, store: SqlStore) -> None:
    for name in ("alice", "bob"):
        await create_user(acme.client, name)

    counts = await EventStore.of(store).purge(OLD, OLD)

    assert (counts.events, counts.audit) == (0, 0)
    assert len(await EventStore.of(store).events_after(acme.tenant_id, 0, 10)) == 2
