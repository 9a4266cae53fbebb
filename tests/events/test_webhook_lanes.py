"""Webhook delivery under hostile or slow receivers, and backlogs: every attempt has one deadline
(connect to last response byte), each webhook is served by a lane of its own so a slow receiver
delays no other webhook, a lease outlasts any attempt within its deadline, and a backlog drains
without waiting for the poll interval."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import orjson
import pytest

from scimhub.app import create_app
from scimhub.events import lane
from scimhub.events.lane import Lane
from scimhub.events.sender import Sender
from scimhub.events.worker import LEASE_MARGIN_SECONDS
from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.events_sql import Claim
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from scimhub.timestamps import format_instant
from tests.events.support import Receiver
from tests.events.support import SlowReceiver
from tests.events.support import create_user
from tests.events.support import eventually
from tests.events.support import running
from tests.events.support import wait_until
from tests.events.test_webhook_delivery import add_webhook
from tests.events.test_webhook_delivery import attempts
from tests.events.test_webhook_delivery import webhook_state

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

DEADLINE = 0.5


@pytest.fixture
def slow(request: pytest.FixtureRequest) -> Iterator[SlowReceiver]:
    mode = getattr(request, "param", "trickle")
    started = SlowReceiver(mode).start()
    yield started
    started.stop()


async def test_a_trickling_receiver_fails_at_the_deadline_and_is_never_counted_delivered(
    acme: TenantAccess, slow: SlowReceiver, settings: Settings, store: SqlStore
) -> None:
    # The 204 takes 6.5 s to trickle in, a byte every 0.1 s: a per-read timeout never fires.
    app = create_app(dataclasses.replace(settings, webhook_timeout_seconds=DEADLINE), store=store)
    hook = await add_webhook(app, slow.url)
    async with running(app):
        await create_user(acme.client, "alice")
        await eventually(lambda: _logged(app, hook["id"], 2), timeout=15, what="two attempts")

    first, second = (await attempts(app, hook["id"]))[:2]
    for attempt in (first, second):
        assert (attempt["seq"], attempt["outcome"], attempt["statusCode"]) == (1, "retry", None)
        assert attempt["error"].startswith("Timeout: no complete response within 0.5 s")
        assert DEADLINE * 1000 * 0.9 <= attempt["latencyMs"] < DEADLINE * 1000 + 1500  # the 204 took 6.7 s
    assert second["attempt"] == 2  # retried, with backoff
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 0


@pytest.mark.parametrize("slow", ["trickle", "silent"], indirect=True)
async def test_a_slow_receiver_of_one_tenant_does_not_delay_another_tenants_deliveries(
    acme: TenantAccess,
    globex: TenantAccess,
    slow: SlowReceiver,
    receiver: Receiver,
    settings: Settings,
    store: SqlStore,
) -> None:
    """Issue 22 item 4: acme's events waited behind the slow receiver of another tenant."""
    app = create_app(dataclasses.replace(settings, webhook_timeout_seconds=3.0), store=store)
    await add_webhook(app, slow.url, "globex")
    await add_webhook(app, receiver.url, "acme")
    latencies = []
    async with running(app):
        await create_user(globex.client, "mallory")
        await wait_until(lambda: slow.seqs() == [1], what="the slow receiver to hold an attempt")
        for i in range(3):
            committed = time.monotonic()
            await create_user(acme.client, f"user{i}")
            await wait_until(lambda i=i: len(receiver.accepted()) == i + 1, timeout=15, what=f"acme event {i + 1}")
            latencies.append(receiver.accepted()[-1].at - committed)

    assert receiver.seqs() == [1, 2, 3]
    # Without lanes each event waited for the slow attempt: 3 s (silent) to 6.7 s (trickle).
    assert max(latencies) < 1.0, latencies


async def test_two_workers_never_send_one_event_at_once_while_an_attempt_is_within_its_deadline(
    acme: TenantAccess, slow: SlowReceiver, settings: Settings, store: SqlStore
) -> None:
    """The lease (deadline + LEASE_MARGIN_SECONDS) outlasts every attempt: another worker cannot
    take the webhook over mid-attempt. A trickling receiver used to hold one attempt past the
    lease, and the other instance sent the same event again meanwhile."""
    # Retries wait 0.25-0.5 s: time for the receiver to see the last attempt's hang-up.
    settings = dataclasses.replace(
        settings, webhook_timeout_seconds=DEADLINE, webhook_backoff_base_seconds=0.5, webhook_backoff_max_seconds=0.5
    )
    app = create_app(settings, store=store)
    hook = await add_webhook(app, slow.url)
    await create_user(acme.client, "alice")
    first, second = (DeliveryWorker(EventStore.of(store), settings) for _ in range(2))

    async def keep_claiming(worker: DeliveryWorker, until: float) -> None:
        # Four attempts, or past the lease: the 204 takes 6.7 s to trickle in.
        while len(slow.arrived) < 4 and time.monotonic() < until:
            await worker.run_once()
            await asyncio.sleep(0.01)

    until = time.monotonic() + DEADLINE + LEASE_MARGIN_SECONDS + 2.0
    await asyncio.gather(keep_claiming(first, until), keep_claiming(second, until))

    log = await attempts(app, hook["id"])
    assert slow.max_in_flight == 1  # it was 2: the other worker took the expired lease mid-attempt
    assert len(slow.arrived) == len(log) >= 4, slow.arrived  # each attempt timed out, and was retried
    assert [a["attempt"] for a in log] == list(range(1, len(log) + 1))  # one after the other
    assert all(a["outcome"] == "retry" and a["latencyMs"] < DEADLINE * 1000 + 1500 for a in log)


async def test_a_lane_renews_a_lease_that_could_lapse_within_the_deadline_and_stops_if_it_was_taken(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    hook = await add_webhook(app, receiver.url)
    await create_user(acme.client, "alice")
    events = EventStore.of(store)
    ours = DeliveryWorker(events, settings)
    (claim,) = await _claim(ours, events, 0.0)
    theirs = DeliveryWorker(events, settings)
    # Our lease ran out (no renewal, a stalled process): the other worker takes the webhook.
    assert len(await _claim(theirs, events, settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS + 1)) == 1

    ours._client = ours.sender.client()
    await Lane(ours, claim, lease_end=time.monotonic()).run()  # "about to lapse": renewal is tried first
    await ours._client.aclose()

    assert receiver.received == []  # the lease was theirs: we sent nothing
    assert await attempts(app, hook["id"]) == []


async def test_a_lane_about_to_lose_its_lease_renews_it_before_the_attempt(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    hook = await add_webhook(app, receiver.url)
    await create_user(acme.client, "alice")
    events = EventStore.of(store)
    ours = DeliveryWorker(events, settings)
    (claim,) = await _claim(ours, events, 0.0)
    renewals: list[str] = []
    renew = events.renew

    async def spy(webhook_id: str, owner: str, lease_until: str) -> bool:
        renewals.append(lease_until)
        return await renew(webhook_id, owner, lease_until)

    events.renew = spy  # type: ignore[method-assign]
    ours._client = ours.sender.client()
    before = format_instant(ours.clock())
    await Lane(ours, claim, lease_end=time.monotonic() + 0.1).run()
    await ours._client.aclose()

    assert len(renewals) == 1 and renewals[0] > before
    assert receiver.seqs() == [1]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 1


async def test_a_backlog_of_300_events_drains_without_waiting_for_the_poll_interval(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    """Issue 20: a backlog drained at one event per SCIMHUB_WORKER_POLL_SECONDS."""
    app = create_app(dataclasses.replace(settings, worker_poll_seconds=2.0), store=store)
    for i in range(300):
        await create_user(acme.client, f"user{i}")
    hook = await add_webhook(app, receiver.url, after=0)
    async with running(app):
        started = time.monotonic()
        await wait_until(lambda: len(receiver.accepted()) == 300, timeout=60, what="300 deliveries")
        elapsed = time.monotonic() - started

    assert receiver.seqs() == list(range(1, 301))  # in order, each once
    assert len(receiver.received) == 300
    # It was one event per 2 s poll: 10 minutes. Here 1-4 s, on 2 cores shared with other test runs.
    assert elapsed < 10.0
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 300


async def _claim(worker: DeliveryWorker, events: EventStore, later: float) -> list[Claim]:
    """Claim as ``worker`` would, ``later`` seconds from now."""
    at = worker.clock() + timedelta(seconds=later)
    return await events.claim(worker.owner, format_instant(at), format_instant(at + worker.lease), 16)


async def _logged(app: object, webhook_id: str, count: int) -> bool:
    return len(await attempts(app, webhook_id)) >= count


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("SCIMHUB_WEBHOOK_CONCURRENCY", "0", "SCIMHUB_WEBHOOK_CONCURRENCY must be at least 1, got 0"),
        ("SCIMHUB_WEBHOOK_TIMEOUT_SECONDS", "0", "SCIMHUB_WEBHOOK_TIMEOUT_SECONDS must be above 0, got 0"),
    ],
)
def test_settings_refuse_no_lane_and_a_zero_deadline(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Settings.from_env({variable: raw})

    assert str(caught.value) == message


def test_the_lease_outlasts_the_attempt_deadline_by_the_margin(settings: Settings, store: SqlStore) -> None:
    worker = DeliveryWorker(EventStore.of(store), dataclasses.replace(settings, webhook_timeout_seconds=30.0))

    assert worker.lease == timedelta(seconds=30.0 + LEASE_MARGIN_SECONDS)


def _mock_sender(handler: Any) -> Sender:
    return Sender(2.0, httpx2.MockTransport(handler))


async def test_a_lane_records_its_attempts_every_record_every_events_and_stops_at_the_first_failure(
    acme: TenantAccess, settings: Settings, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Attempts are recorded in batches of RECORD_EVERY: a process killed at any point sends again
    at most the events delivered since the last record, plus the one in flight."""
    monkeypatch.setattr(lane, "RECORD_EVERY", 5)
    monkeypatch.setattr(lane, "RECORD_SECONDS", 60.0)
    app = create_app(settings, store=store)
    for i in range(20):
        await create_user(acme.client, f"user{i}")
    hook = await add_webhook(app, "https://hooks.example.com/scim", after=0)
    events = EventStore.of(store)
    sent: list[tuple[int, int]] = []  # (seq, the cursor while it is being sent)

    async def handler(request: httpx2.Request) -> httpx2.Response:
        seq = orjson.loads(request.content)["seq"]
        found = await events.get_webhook(hook["id"])
        assert found is not None
        sent.append((seq, found.delivered_seq))
        return httpx2.Response(503 if seq == 19 else 204)

    worker = DeliveryWorker(events, settings, sender=_mock_sender(handler))
    assert await worker.run_once() == 1

    # Back to back; the cursor recorded after every 5th delivery, so never more than 5 behind.
    assert sent == [(seq, (seq - 1) // 5 * 5) for seq in range(1, 20)]
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["outcome"]) for a in log] == [(s, "delivered") for s in range(1, 19)] + [(19, "retry")]
    state = await webhook_state(app, hook["id"])
    assert (state["deliveredSeq"], state["attempts"]) == (18, 1)
    assert state["nextAttemptAt"] is not None


async def test_a_lane_stopped_mid_attempt_keeps_what_it_recorded_and_gives_the_lease_back(
    acme: TenantAccess, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    for i in range(5):
        await create_user(acme.client, f"user{i}")
    hook = await add_webhook(app, "https://hooks.example.com/scim", after=0)
    third = asyncio.Event()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if orjson.loads(request.content)["seq"] == 3:
            third.set()
            await asyncio.sleep(60)  # stopped before it answers
        return httpx2.Response(204)

    events = EventStore.of(store)
    worker = DeliveryWorker(events, settings, sender=_mock_sender(handler))
    lane = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(third.wait(), 10)
    lane.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lane

    assert [(a["seq"], a["outcome"]) for a in await attempts(app, hook["id"])] == [(1, "delivered"), (2, "delivered")]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 2
    # The lease was given back: another worker takes seq 3 at once.
    assert len(await _claim(DeliveryWorker(events, settings), events, 0.0)) == 1
