"""Issue 21, event delivery: a backlog drains back to back (never at the worker's poll interval),
after an outage, after dead letters and redelivery, and when writes pause; a lane records its
attempts in batches and a crash sends again only what its last record did not cover."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
import uuid
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import anyio
import httpx2
import orjson
import pytest
from sqlalchemy import select

from scimhub import HookRegistry
from scimhub.app import create_app
from scimhub.events import lane
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType
from scimhub.events.sender import Sender
from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from scimhub.store.tables import webhooks
from scimhub.timestamps import format_instant
from scimhub.timestamps import utc_now
from tests.conftest import make_tenant
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.support import eventually
from tests.events.support import running
from tests.events.support import wait_until
from tests.events.test_webhook_delivery import add_webhook
from tests.events.test_webhook_delivery import attempts
from tests.events.test_webhook_delivery import webhook_state

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

POLL = 2.0  # the worker's poll interval in these tests: a drain at its pace would take minutes


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, worker_poll_seconds=POLL)


async def append_events(store: SqlStore, tenant_id: str, count: int) -> None:
    """``count`` user.created events committed in one transaction (a backlog, no SCIM writes)."""
    now = utc_now()
    drafts = [EventDraft(str(uuid.uuid4()), EventType.USER_CREATED, "User", f"u{i}", now, None) for i in range(count)]
    async with store.unit_of_work(tenant_id) as uow:
        await uow.append_events(drafts)


def largest_gap(receiver: Receiver) -> float:
    times = [d.at for d in receiver.received]
    return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


async def test_a_backlog_added_with_after_0_drains_back_to_back_without_new_writes(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    """The issue's scenario: 200 events waiting, a webhook added with after=0, nothing written
    since. Seq 17 came 2 s after 16, 18 at +4 s: one event per poll."""
    app = create_app(settings, store=store)
    await append_events(store, acme.tenant_id, 200)
    hook = await add_webhook(app, receiver.url, after=0)
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 200, timeout=30, what="200 deliveries")
        await wait_until(lambda: True)

    assert receiver.seqs() == list(range(1, 201))
    assert largest_gap(receiver) < POLL * 0.75
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["outcome"]) for a in log] == [(s, "delivered") for s in range(1, 201)]


async def test_after_a_receiver_outage_the_backlog_drains_back_to_back(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    receiver.fail_first = 3  # down: three attempts on seq 1 fail, then it is back
    app = create_app(settings, store=store)
    await append_events(store, acme.tenant_id, 150)
    hook = await add_webhook(app, receiver.url, after=0)
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 150, timeout=30, what="150 deliveries")

    assert receiver.seqs() == list(range(1, 151))
    assert [d.event["seq"] for d in receiver.received[:4]] == [1, 1, 1, 1]
    assert largest_gap(receiver) < POLL * 0.75  # the retries wait their backoff (0.05-0.2 s), not the poll
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["attempt"], a["outcome"]) for a in log[:4]] == [
        (1, 1, "retry"),
        (1, 2, "retry"),
        (1, 3, "retry"),
        (1, 4, "delivered"),
    ]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 150


async def test_after_a_dead_letter_the_rest_drains_at_once_and_redelivery_sends_it(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    receiver.fail_first = 2
    app = create_app(dataclasses.replace(settings, webhook_max_attempts=2), store=store)
    await append_events(store, acme.tenant_id, 100)
    hook = await add_webhook(app, receiver.url, after=0)
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 99, timeout=30, what="99 deliveries")
        # The lane records its deliveries in batches (up to 0.1 s later): redeliver once they are
        # in the log, so the redelivery is its last row.
        for _ in range(250):
            if (await webhook_state(app, hook["id"]))["deliveredSeq"] == 100:
                break
            await anyio.sleep(0.02)
        async with admin_client(app) as admin:
            redone = await admin.post(f"/tenants/acme/webhooks/{hook['id']}/redeliver", json={})

    assert redone.status_code == 200, redone.text
    assert receiver.seqs() == [*range(2, 101), 1]  # seq 1 dead-lettered, the rest at once, then 1 by hand
    assert largest_gap(receiver) < POLL * 0.75
    outcomes = [(a["seq"], a["outcome"]) for a in await attempts(app, hook["id"])]
    assert outcomes[:2] == [(1, "retry"), (1, "dead")]
    assert outcomes[-1] == (1, "redelivered")


async def test_after_writes_pause_the_next_ones_are_delivered_at_once(
    app: object, acme: TenantAccess, receiver: Receiver
) -> None:
    """A lane waits LINGER_SECONDS for more; past that the next commit wakes the worker's claim."""
    await add_webhook(app, receiver.url)
    delays = []
    async with running(app):
        for pause_before in (0.0, 0.0, lane.LINGER_SECONDS + 0.5, 0.2, lane.LINGER_SECONDS + 0.5):
            await asyncio.sleep(pause_before)
            committed = time.monotonic()
            await create_user(acme.client, f"user{len(delays)}")
            count = len(delays) + 1
            await wait_until(lambda count=count: len(receiver.accepted()) == count, timeout=10, what=f"event {count}")
            delays.append(receiver.accepted()[-1].at - committed)

    assert receiver.seqs() == [1, 2, 3, 4, 5]
    assert max(delays) < POLL / 2, delays


def _mock_sender(handler: object) -> Sender:
    return Sender(2.0, httpx2.MockTransport(handler))  # type: ignore[arg-type]


async def test_a_crash_sends_again_only_the_events_after_the_last_record_and_the_one_in_flight(
    acme: TenantAccess, settings: Settings, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RECORD_EVERY 5: seq 1-5 recorded, 6 and 7 accepted but not recorded, 8 in flight when the
    process "dies" (its lane never records again). The next owner starts at 6: 6, 7 and 8 are
    the only events a receiver sees twice."""
    monkeypatch.setattr(lane, "RECORD_EVERY", 5)
    monkeypatch.setattr(lane, "RECORD_SECONDS", 60.0)
    await append_events(store, acme.tenant_id, 12)
    events = EventStore.of(store)
    app = create_app(settings, store=store)
    hook = await add_webhook(app, "https://hooks.example.com/scim", after=0)
    received: list[int] = []
    in_flight, never = asyncio.Event(), asyncio.Event()

    async def dying(request: httpx2.Request) -> httpx2.Response:
        seq = orjson.loads(request.content)["seq"]
        received.append(seq)
        if seq == 8:
            in_flight.set()
            await never.wait()  # the process dies during this POST
        return httpx2.Response(204)

    first = DeliveryWorker(events, settings, sender=_mock_sender(dying))
    dead = asyncio.create_task(first.run_once())
    await asyncio.wait_for(in_flight.wait(), 10)
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 5  # what the crash leaves

    async def alive(request: httpx2.Request) -> httpx2.Response:
        received.append(orjson.loads(request.content)["seq"])
        return httpx2.Response(204)

    later = dataclasses.replace(settings)
    second = DeliveryWorker(events, later, sender=_mock_sender(alive))
    second.clock = lambda: first.clock() + first.lease + timedelta(seconds=1)  # the dead lease expired
    assert await second.run_once() == 1
    dead.cancel()  # (the dead process's task: its late bookkeeping finds the lease gone)
    with pytest.raises(asyncio.CancelledError):
        await dead

    assert received == [*range(1, 9), *range(6, 13)]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 12


async def test_a_lane_records_a_burst_in_few_transactions(
    acme: TenantAccess, settings: Settings, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each event was its own claim, POST and outcome transaction: 250 events now take 3 records
    of RECORD_EVERY (100) and one read per PAGE (256) events."""
    monkeypatch.setattr(lane, "RECORD_SECONDS", 60.0)
    await append_events(store, acme.tenant_id, 250)
    events = EventStore.of(store)
    app = create_app(settings, store=store)
    hook = await add_webhook(app, "https://hooks.example.com/scim", after=0)
    calls = {"finish": 0, "events_after": 0}
    for name in calls:
        original = getattr(events, name)

        async def counted(*args: object, _original: object = original, _name: str = name) -> object:
            calls[_name] += 1
            return await _original(*args)  # type: ignore[operator]

        monkeypatch.setattr(events, name, counted)
    worker = DeliveryWorker(events, settings, sender=_mock_sender(lambda request: httpx2.Response(204)))

    assert await worker.run_once() == 1

    assert calls == {"finish": 3, "events_after": 2}  # records at 100, 200, 250; pages after 1 and 249
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["outcome"]) for a in log] == [(s, "delivered") for s in range(1, 251)]


async def test_a_lane_waiting_for_commits_gives_way_when_another_webhook_is_due(
    receiver: Receiver, settings: Settings, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One lane (SCIMHUB_WEBHOOK_CONCURRENCY=1): acme's lane lingers after its event; globex's
    commit must not wait for the linger to end."""
    monkeypatch.setattr(lane, "LINGER_SECONDS", 30.0)
    app = create_app(dataclasses.replace(settings, webhook_concurrency=1), store=store)
    acme, globex = await make_tenant(store, app, "acme"), await make_tenant(store, app, "globex")
    await add_webhook(app, receiver.url, "acme")
    await add_webhook(app, receiver.url, "globex")
    async with running(app), acme.client, globex.client:
        await create_user(acme.client, "alice")
        await wait_until(lambda: len(receiver.accepted()) == 1, what="acme's event")
        committed = time.monotonic()
        await create_user(globex.client, "bob")
        await wait_until(lambda: len(receiver.accepted()) == 2, timeout=10, what="globex's event")
        delay = receiver.accepted()[-1].at - committed

    assert [d.event["tenantId"] for d in receiver.accepted()] == [acme.tenant_id, globex.tenant_id]
    assert delay < 1.0


async def test_a_lingering_lane_keeps_the_lease_and_a_new_event_needs_no_claim(
    app: object,
    acme: TenantAccess,
    receiver: Receiver,
    settings: Settings,
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lane, "LINGER_SECONDS", 30.0)
    monkeypatch.setattr(lane, "LINGER_POLL_SECONDS", 30.0)
    hook = await add_webhook(app, receiver.url)
    events = EventStore.of(store)
    stopping = 0.0
    async with running(app):
        await create_user(acme.client, "alice")
        await wait_until(lambda: len(receiver.accepted()) == 1, what="the first event")
        now = format_instant(DeliveryWorker(events, settings).clock())
        assert not await events.has_due(now)  # leased by the waiting lane
        await create_user(acme.client, "bob")
        await wait_until(lambda: len(receiver.accepted()) == 2, what="the second event")
        started = time.monotonic()
        await eventually(lambda: _cursor_is(events, hook["id"], 2), what="the record")
        recorded_within = time.monotonic() - started
        assert not await events.has_due(now)  # still waiting, still leased
        stopping = time.monotonic()
    stopped_within = time.monotonic() - stopping

    assert receiver.seqs() == [1, 2]
    assert stopped_within < 1.0  # a shutdown ends the wait at once (not after the grace, 4 s)
    assert await events.has_due(now) is False and await _lease_free(events, hook["id"])
    assert recorded_within < lane.RECORD_SECONDS + 1.0  # recorded while waiting, not at its end (30 s)


async def _lease_free(events: EventStore, webhook_id: str) -> bool:
    async with events.db.read() as conn:
        row = (await conn.execute(select(webhooks.c.lease_owner).where(webhooks.c.id == webhook_id))).first()
    return row is not None and row.lease_owner is None


async def _cursor_is(events: EventStore, webhook_id: str, seq: int) -> bool:
    found = await events.get_webhook(webhook_id)
    return found is not None and found.delivered_seq == seq


async def test_an_in_process_hook_drains_a_backlog_in_order_without_waiting_for_the_poll(
    acme: TenantAccess, settings: Settings, store: SqlStore
) -> None:
    """The in-process hook path: a handler starting from the oldest event reads 100 at a time and
    goes on at once, not a batch per poll interval."""
    await append_events(store, acme.tenant_id, 1000)
    seen: list[tuple[int, float]] = []

    async def handler(event: Event) -> None:
        seen.append((event.seq, time.monotonic()))

    hooks = HookRegistry("backlog")
    hooks.register("*", handler, name="all", from_start=True)
    app = create_app(settings, store=store, hooks=hooks)
    async with running(app):
        started = time.monotonic()
        await wait_until(lambda: len(seen) == 1000, timeout=60, what="1000 events handled")
        elapsed = time.monotonic() - started

    assert [seq for seq, _ in seen] == list(range(1, 1001))
    assert elapsed < 5 * POLL  # a batch of 100 per poll: 10 polls, 20 s


async def test_a_retry_that_fell_due_since_the_claim_does_not_wait_for_the_poll(
    acme: TenantAccess, settings: Settings, store: SqlStore
) -> None:
    """The claim read the clock before the retry was due; the worker's sleep then asked for
    retries after its own, later, clock: none, so it slept the poll interval (a retry after an
    outage waited 2 s instead of its backoff)."""
    await append_events(store, acme.tenant_id, 1)
    events = EventStore.of(store)
    app = create_app(settings, store=store)
    hook = await add_webhook(app, "https://hooks.example.com/scim", after=0)
    failing = DeliveryWorker(events, settings, sender=_mock_sender(lambda request: httpx2.Response(503)))
    assert await failing.run_once() == 1
    retry_at = (await webhook_state(app, hook["id"]))["nextAttemptAt"]

    due = datetime.fromisoformat(retry_at)
    worker = DeliveryWorker(events, settings)
    worker.clock = lambda: due
    started = time.monotonic()
    await worker._sleep()
    same_millisecond = time.monotonic() - started
    # On PostgreSQL the round's claim ran 12 ms before its sleep read the clock: the retry fell
    # due in between. The sleep asks for retries from the claim's instant on.
    worker.clock = lambda: due + timedelta(milliseconds=15)
    started = time.monotonic()
    await worker._sleep(due - timedelta(milliseconds=5))
    fell_due_since_the_claim = time.monotonic() - started

    assert same_millisecond < POLL / 4
    assert fell_due_since_the_claim < POLL / 4
