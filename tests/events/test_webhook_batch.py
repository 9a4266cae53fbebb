"""Opt-in batch delivery: up to ``batch`` events of a webhook in one signed Standard Webhooks
request, in seq order; the request is accepted, retried or dead-lettered as a whole."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from scimhub.admin.cli import main
from scimhub.app import create_app
from scimhub.events.batch import MAX_BATCH
from scimhub.events.batch import batch_body
from scimhub.events.model import Event
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import running
from tests.events.support import wait_until
from tests.events.test_delivery_backlog import append_events
from tests.events.test_webhook_delivery import add_webhook
from tests.events.test_webhook_delivery import attempts
from tests.events.test_webhook_delivery import webhook_state

if TYPE_CHECKING:
    from tests.conftest import TenantAccess


def _batch(body: bytes) -> list[dict[str, Any]]:
    parsed = orjson.loads(body)
    assert parsed["type"] == "batch"
    events: list[dict[str, Any]] = parsed["events"]
    return events


@pytest.mark.anyio
async def test_a_batch_webhook_gets_its_backlog_in_signed_requests_of_up_to_batch_events_in_order(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(settings, store=store)
    await append_events(store, acme.tenant_id, 120)
    hook = await add_webhook(app, receiver.url, after=0, batch=50)
    async with running(app):
        await wait_until(lambda: sum(len(_batch(d.body)) for d in receiver.accepted()) == 120, what="120 events")

    assert hook["batch"] == 50
    requests = receiver.accepted()
    batches = [Webhook(hook["secret"]).verify(d.body, d.headers)["events"] for d in requests]
    assert [len(b) for b in batches] == [50, 50, 20]
    assert [e["seq"] for b in batches for e in b] == list(range(1, 121))
    stored = await EventStore.of(store).events_after(acme.tenant_id, 0, 200)
    assert [e for b in batches for e in b] == [e.to_json() for e in stored]  # each exactly a one-event body
    assert [d.headers["webhook-id"] for d in requests] == [
        f"batch_{batches[0][0]['id']}_50",
        f"batch_{batches[1][0]['id']}_100",
        f"batch_{batches[2][0]['id']}_120",
    ]
    log = await attempts(app, hook["id"])
    assert [(a["seq"], a["attempt"], a["outcome"]) for a in log] == [(s, 1, "delivered") for s in range(1, 121)]
    assert (await webhook_state(app, hook["id"]))["deliveredSeq"] == 120


@pytest.mark.anyio
async def test_a_failed_batch_is_retried_as_a_whole(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    receiver.fail_first = 1
    app = create_app(settings, store=store)
    await append_events(store, acme.tenant_id, 10)
    hook = await add_webhook(app, receiver.url, after=0, batch=10)
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 1, what="the retried batch")

    first, second = receiver.received
    assert first.body == second.body and first.headers["webhook-id"] == second.headers["webhook-id"]
    assert [e["seq"] for e in _batch(second.body)] == list(range(1, 11))
    log = [(a["seq"], a["attempt"], a["outcome"], a["statusCode"]) for a in await attempts(app, hook["id"])]
    assert log == [(s, 1, "retry", 503) for s in range(1, 11)] + [(s, 2, "delivered", 204) for s in range(1, 11)]


@pytest.mark.anyio
async def test_a_batch_that_fails_for_the_last_time_is_dead_lettered_event_by_event(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    receiver.fail_first = 1
    app = create_app(dataclasses.replace(settings, webhook_max_attempts=1), store=store)
    await append_events(store, acme.tenant_id, 8)
    hook = await add_webhook(app, receiver.url, after=0, batch=5)
    async with running(app):
        await wait_until(lambda: len(receiver.accepted()) == 1, what="the next batch")
        state = await webhook_state(app, hook["id"])

    assert [e["seq"] for e in _batch(receiver.accepted()[0].body)] == [6, 7, 8]
    assert [d["seq"] for d in state["deadLetters"]] == [1, 2, 3, 4, 5]


@pytest.mark.anyio
@pytest.mark.parametrize("batch", [0, MAX_BATCH + 1, -3, "10", True, 2.5, None])
async def test_the_admin_api_refuses_a_bad_batch_size_and_adds_nothing(
    app: object, acme: TenantAccess, batch: object
) -> None:
    async with admin_client(app) as admin:
        refused = await admin.post("/tenants/acme/webhooks", json={"url": "https://a.example.com/", "batch": batch})
        listed = await admin.get("/tenants/acme/webhooks")

    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        f"batch must be an integer from 1 (one event a request) to {MAX_BATCH}, got {batch!r}."
    )
    assert listed.json() == {"webhooks": []}


@pytest.fixture
def cli(settings: Settings, store: SqlStore) -> CliRunner:
    asyncio.run(tenants.create_tenant(store, "acme"))
    return CliRunner(env={"SCIMHUB_DATABASE_URL": settings.database_url})


def test_the_cli_adds_a_batch_webhook_and_lists_its_batch_size(cli: CliRunner) -> None:
    added = cli.invoke(main, ["webhook", "add", "acme", "https://a.example.com/", "--batch", "25"])
    listed = cli.invoke(main, ["webhook", "list", "acme"])

    assert added.exit_code == 0, added.output
    assert "https://a.example.com/, from seq 1, up to 25 events a request." in added.output
    assert listed.output.splitlines()[0].endswith("\tbatch")
    assert listed.output.splitlines()[1].endswith("https://a.example.com/\t0\t0\t-\t25")


@pytest.mark.parametrize("batch", ["0", str(MAX_BATCH + 1), "ten"])
def test_the_cli_refuses_a_bad_batch_size_and_adds_nothing(cli: CliRunner, batch: str) -> None:
    refused = cli.invoke(main, ["webhook", "add", "acme", "https://a.example.com/", "--batch", batch])
    listed = cli.invoke(main, ["webhook", "list", "acme"])

    assert refused.exit_code == 2
    assert "Invalid value for '--batch'" in refused.output
    assert listed.output.splitlines()[1:] == []


def _event(seq: int, size: int) -> Event:
    return Event("t", seq, f"id{seq}", "user.created", {"type": "user.created", "pad": "x" * size})


def test_a_batch_body_stops_before_its_byte_cap_and_carries_one_event_whatever_its_size() -> None:
    events = [_event(seq, 100) for seq in range(1, 11)]
    one = len(orjson.dumps(events[0].to_json()))

    body, count = batch_body(events, max_bytes=3 * one + 40)
    big_body, big_count = batch_body([_event(1, 5000), *events[1:]], max_bytes=1000)

    assert count == 3
    assert orjson.loads(body) == {"type": "batch", "events": [e.to_json() for e in events[:3]]}
    assert len(body) <= 3 * one + 40
    assert big_count == 1 and len(big_body) > 1000
