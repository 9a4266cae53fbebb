"""The worker's "is there any webhook?" probe, asked after every commit: a "no" is believed for
NO_WEBHOOK_RECHECK_SECONDS, and meanwhile a commit does not wake the worker; a webhook added
through the same store is seen at once, one added by another process once that time has passed."""

from __future__ import annotations

import pytest

from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store import events_sql
from scimhub.store import fast_reads
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.conftest import sql_of

pytestmark = pytest.mark.anyio


def probes(store: SqlStore, statements: list[str]) -> int:
    return statements.count(sql_of(store, fast_reads.ANY_WEBHOOK))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(events_sql.time, "monotonic", fake)
    return fake


async def test_no_webhook_is_probed_once_per_recheck_interval(
    store: SqlStore, acme: TenantAccess, hot_statements: list[str], clock: Clock
) -> None:
    events = EventStore.of(store)
    assert [await events.has_webhooks() for _ in range(50)] == [False] * 50
    assert probes(store, hot_statements) == 1
    clock.now += events_sql.NO_WEBHOOK_RECHECK_SECONDS
    assert await events.has_webhooks() is False
    assert probes(store, hot_statements) == 2


async def test_a_webhook_added_through_the_same_store_is_seen_at_once(
    store: SqlStore, acme: TenantAccess, clock: Clock
) -> None:
    events = EventStore.of(store)
    assert await events.has_webhooks() is False
    await events.add_webhook("wh-1", acme.tenant_id, "https://example.com/hook", "secret", "2026-01-01T00:00:00.000Z")
    assert await events.has_webhooks() is True


async def test_a_webhook_added_by_another_process_is_seen_after_the_interval(
    store: SqlStore, acme: TenantAccess, hot_statements: list[str], clock: Clock
) -> None:
    ours, theirs = EventStore.of(store), EventStore.of(store)
    assert await ours.has_webhooks() is False
    await theirs.add_webhook("wh-1", acme.tenant_id, "https://example.com/hook", "secret", "2026-01-01T00:00:00.000Z")
    assert await ours.has_webhooks() is False  # still believed
    clock.now += events_sql.NO_WEBHOOK_RECHECK_SECONDS
    assert await ours.has_webhooks() is True
    assert await ours.has_webhooks() is True  # a "yes" is never cached: probed each time
    assert probes(store, hot_statements) == 3


async def test_a_commit_wakes_the_worker_only_while_no_webhook_is_not_known(
    store: SqlStore, acme: TenantAccess, settings: Settings, clock: Clock
) -> None:
    events = EventStore.of(store)
    worker = DeliveryWorker(events, settings)
    worker.wake()
    assert worker._wake.is_set()  # nothing known yet: the worker looks
    worker._wake.clear()

    assert await events.has_webhooks() is False
    worker.wake()
    assert not worker._wake.is_set()  # a fresh "no": waking it would find nothing to do

    clock.now += events_sql.NO_WEBHOOK_RECHECK_SECONDS
    worker.wake()
    assert worker._wake.is_set()  # the "no" lapsed: the first commit after it wakes the worker
    worker._wake.clear()

    await events.has_webhooks()
    await events.add_webhook("wh-1", acme.tenant_id, "https://example.com/hook", "secret", "2026-01-01T00:00:00.000Z")
    worker.wake()
    assert worker._wake.is_set()  # a webhook added through this store: every commit wakes it
