"""Webhook delivery by the in-process worker: signed, in order, at least once, with retries,
backoff, dead letters and manual redelivery; no network I/O inside a transaction."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING
from typing import Any

import anyio
import httpx2
import pytest
from sqlalchemy import event as sql_event
from standardwebhooks import Webhook

from scimhub.app import create_app
from scimhub.events.sender import Sender
from scimhub.events.worker import Backoff
from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.database import SqliteDatabase
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import eventually
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import running
from tests.events.support import wait_until

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def add_webhook(app: object, url: str, tenant: str = "acme", **extra: Any) -> dict[str, Any]:
    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/{tenant}/webhooks", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def webhook_state(app: object, webhook_id: str, tenant: str = "acme") -> dict[str, Any]:
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/{tenant}/webhooks/{webhook_id}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def attempts(app: object, webhook_id: str, tenant: str = "acme") -> list[dict[str, Any]]:
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/{tenant}/webhooks/{webhook_id}/attempts", params={"limit": 1000})
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["attempts"]
    return rows


async def test_events_arrive_in_order_signed_with_the_event_id_as_webhook_id(
    app: Any, acme: TenantAccess, receiver: Receiver
) -> None:
    hook = await add_webhook(app, receiver.url)
    async with running(app):
        alice = await create_user(acme.client, "alice", active=True)
        group = await create_group(acme.client, "Engineering", [alice])
        await patch(acme.client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": False})
        await acme.client.delete(f"/Groups/{group}")
        await wait_until(lambda: len(receiver.accepted()) == 5, what="5 deliveries")

    events = await feed(app)
    assert receiver.seqs() == [1, 2, 3, 4, 5]
    for delivery, event in zip(receiver.accepted(), events, strict=True):
        # A user event's `user` has the groups the user had when it was read: the group is gone by now.
        delivered = Webhook(hook["secret"]).verify(delivery.body, delivery.headers)
        assert ("user" in delivered) == ("user" in event) == event["type"].startswith("user.")
        assert {k: v for k, v in delivered.items() if k != "user"} == {k: v for k, v in event.items() if k != "user"}
        assert delivery.headers["webhook-id"] == event["id"]
        assert delivery.headers["content-type"] == "application/json"
    assert [e["type"] for e in events] == [
        "user.created",
        "group.created",
        "group.member_added",
        "user.deactivated",
        "group.deleted",
    ]
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["outcome"], a["statusCode"]) for a in log] == [(s, "delivered", 204) for s in range(1, 6)]
    assert all(isinstance(a["latencyMs"], int) for a in log)
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 5


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_after_backoff(
    app: Any, acme: TenantAccess, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    hook = await add_webhook(app, receiver.url)
    async with running(app):
        await create_user(acme.client, "alice")
        await create_user(acme.client, "bob")
        await wait_until(lambda: len(receiver.accepted()) == 2, what="2 deliveries")

    first = [d for d in receiver.received if d.event["seq"] == 1]
    assert [d.headers["x-test-status"] for d in first] == ["503", "503", "204"]
    assert len({d.headers["webhook-id"] for d in first}) == 1  # stable across retries
    gaps = [b.at - a.at for a, b in itertools.pairwise(first)]
    assert gaps[0] >= 0.05 / 2 * 0.9  # attempt 1 → 2 waits at least half of base (equal jitter)
    assert gaps[1] >= 0.1 / 2 * 0.9  # attempt 2 → 3 at least half of 2 * base
    assert receiver.seqs() == [1, 2]  # the head of line blocked seq 2 until seq 1 got through
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["attempt"], a["outcome"]) for a in log] == [
        (1, 1, "retry"),
        (1, 2, "retry"),
        (1, 3, "delivered"),
        (2, 1, "delivered"),
    ]
    assert log[0]["statusCode"] == 503
    assert log[0]["error"] == "HTTP 503"


def test_backoff_is_exponential_capped_and_jittered_between_half_and_all() -> None:
    backoff = Backoff(base=2.0, cap=60.0)

    assert [backoff.delay(n, lambda: 1.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    assert [backoff.delay(n, lambda: 0.0) for n in range(1, 4)] == [1, 2, 4]


async def test_after_max_attempts_the_event_is_dead_lettered_and_delivery_moves_on(
    app: Any, acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(_with(settings, webhook_max_attempts=3), store=store)
    receiver.fail_first = 3
    hook = await add_webhook(app, receiver.url)
    async with running(app):
        await create_user(acme.client, "alice")
        await create_user(acme.client, "bob")
        await wait_until(lambda: len(receiver.accepted()) == 1, what="seq 2 delivered")

    assert receiver.seqs() == [2]
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["outcome"]) for a in log] == [(1, "retry"), (1, "retry"), (1, "dead"), (2, "delivered")]
    state = await webhook_state(app, hook["id"])
    assert state["deliveredSeq"] == 2
    assert [d["seq"] for d in state["deadLetters"]] == [1]

    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/acme/webhooks/{hook['id']}/redeliver", json={})

    assert response.status_code == 200, response.text
    assert [(a["seq"], a["attempt"], a["outcome"]) for a in response.json()["attempts"]] == [(1, 4, "redelivered")]
    assert receiver.seqs() == [2, 1]
    redelivered = receiver.accepted()[-1]
    assert Webhook(hook["secret"]).verify(redelivered.body, redelivered.headers)["seq"] == 1
    assert (await webhook_state(app, hook["id"]))["deadLetters"] == []


async def test_a_failed_redelivery_stays_a_dead_letter(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(_with(settings, webhook_max_attempts=1), store=store)
    receiver.status = 500
    hook = await add_webhook(app, receiver.url)
    async with running(app):
        await create_user(acme.client, "alice")
        await eventually(lambda: _dead(app, hook["id"]), what="a dead letter")

    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/acme/webhooks/{hook['id']}/redeliver", json={"seq": 1})
        missing = await admin.post(f"/tenants/acme/webhooks/{hook['id']}/redeliver", json={"seq": 99})

    assert [a["outcome"] for a in response.json()["attempts"]] == ["dead"]
    assert missing.status_code == 404
    assert [d["seq"] for d in (await webhook_state(app, hook["id"]))["deadLetters"]] == [1]


async def _dead(app: object, webhook_id: str) -> bool:
    return bool((await webhook_state(app, webhook_id))["deadLetters"])


def _with(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)


async def test_each_tenant_and_each_webhook_has_its_own_cursor(
    app: Any, acme: TenantAccess, globex: TenantAccess, receiver: Receiver
) -> None:
    other = Receiver().start()
    try:
        await add_webhook(app, receiver.url, "acme")
        await add_webhook(app, other.url, "acme")
        await add_webhook(app, other.url, "globex")
        async with running(app):
            await create_user(acme.client, "alice")
            await create_user(globex.client, "gina")
            await create_user(acme.client, "bob")
            await wait_until(lambda: len(receiver.accepted()) == 2 and len(other.accepted()) == 3)
        by_tenant = sorted((d.event["tenantId"], d.event["seq"]) for d in other.accepted())
    finally:
        other.stop()

    assert receiver.seqs() == [1, 2]
    assert by_tenant == sorted([(acme.tenant_id, 1), (acme.tenant_id, 2), (globex.tenant_id, 1)])


async def test_a_new_webhook_gets_new_events_unless_asked_to_replay(
    app: Any, acme: TenantAccess, receiver: Receiver
) -> None:
    await create_user(acme.client, "alice")
    await create_user(acme.client, "bob")
    replay = Receiver().start()
    try:
        await add_webhook(app, receiver.url)
        await add_webhook(app, replay.url, after=0)
        async with running(app):
            await create_user(acme.client, "carol")
            await wait_until(lambda: len(receiver.accepted()) == 1 and len(replay.accepted()) == 3)
        replayed = replay.seqs()
    finally:
        replay.stop()

    assert receiver.seqs() == [3]
    assert replayed == [1, 2, 3]


async def _drain(worker: DeliveryWorker) -> None:
    while await worker.run_once():
        pass


def _drain_in_own_process(settings: Settings) -> None:
    """A second instance: its own engine, write lock and event loop on the same database."""
    other = open_store(settings)
    try:
        for _ in range(20):
            asyncio.run(_drain(DeliveryWorker(EventStore.of(other), settings)))
    finally:
        asyncio.run(other.close())


async def test_two_instances_on_one_database_deliver_each_event_once_in_order(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    await add_webhook(app, receiver.url)
    for i in range(20):
        await create_user(acme.client, f"user{i}")
    thread = threading.Thread(target=_drain_in_own_process, args=(settings,))
    thread.start()
    mine = DeliveryWorker(EventStore.of(store), settings)
    for _ in range(20):
        await _drain(mine)
        await asyncio.sleep(0.001)
    await anyio.to_thread.run_sync(thread.join, 30)

    assert receiver.seqs() == list(range(1, 21))
    assert len(receiver.received) == 20


@contextmanager
def connections_in_use(store: SqlStore) -> Iterator[set[int]]:
    """The ids of the store's pooled connections that are checked out now (SQLite's hot reads use a
    connection of their own, in autocommit mode: never a transaction)."""
    db = store.db
    engine = db.engine if isinstance(db, SqliteDatabase) else db.engine.sync_engine
    out: set[int] = set()

    def checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        out.add(id(dbapi_connection))

    def checkin(dbapi_connection: Any, _record: Any) -> None:
        out.discard(id(dbapi_connection))

    sql_event.listen(engine, "checkout", checkout)
    sql_event.listen(engine, "checkin", checkin)
    try:
        yield out
    finally:
        sql_event.remove(engine, "checkin", checkin)
        sql_event.remove(engine, "checkout", checkout)


async def test_no_network_io_happens_inside_a_transaction(
    acme: TenantAccess, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    hook = await add_webhook(app, "http://receiver.invalid/hook")
    await create_user(acme.client, "alice")
    in_transaction: list[bool] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        in_transaction.append(bool(checked_out))  # a connection out of the pool holds a transaction
        return httpx2.Response(200)

    worker = DeliveryWorker(EventStore.of(store), settings, sender=Sender(2.0, httpx2.MockTransport(handler)))
    with connections_in_use(store) as checked_out:
        assert await worker.run_once() == 1

    assert in_transaction == [False]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 1


async def test_a_removed_webhook_stops_receiving(app: Any, acme: TenantAccess, receiver: Receiver) -> None:
    hook = await add_webhook(app, receiver.url)
    async with admin_client(app) as admin:
        assert (await admin.delete(f"/tenants/acme/webhooks/{hook['id']}")).status_code == 204
        assert (await admin.get(f"/tenants/acme/webhooks/{hook['id']}")).status_code == 404
    async with running(app):
        await create_user(acme.client, "alice")
        await asyncio.sleep(0.3)

    assert receiver.received == []
