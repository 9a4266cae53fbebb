"""`scimhub webhook …` and `scimhub events list`: the command-line side of directory sync."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid

import orjson
import pytest
from click.testing import CliRunner
from standardwebhooks import Webhook

from scimhub.admin.cli import main
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType
from scimhub.events.signing import webhook_headers
from scimhub.events.worker import DeliveryWorker
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import Receiver


@pytest.fixture
def cli(settings: Settings, store: SqlStore) -> CliRunner:
    asyncio.run(tenants.create_tenant(store, "acme"))
    return CliRunner(env={"SCIMHUB_DATABASE_URL": settings.database_url})


def test_webhook_add_prints_the_signing_secret_alone_on_the_last_line(cli: CliRunner, store: SqlStore) -> None:
    result = cli.invoke(main, ["webhook", "add", "acme", "https://app.example.com/hooks/scim"])

    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    (stored,) = asyncio.run(EventStore.of(store).list_webhooks(_acme(store)))
    assert stored.secret == secret
    body = orjson.dumps(Event(stored.tenant_id, 1, "e1", "user.created", {"type": "user.created"}).to_json())
    assert Webhook(secret).verify(body, webhook_headers(stored.secret, "e1", int(time.time()), body))


def test_webhook_add_refuses_a_bad_url_or_tenant(cli: CliRunner) -> None:
    bad_url = cli.invoke(main, ["webhook", "add", "acme", "not a url"])
    bad_tenant = cli.invoke(main, ["webhook", "add", "nosuch", "https://example.com/"])

    assert bad_url.exit_code == 1
    assert "http:// or https://" in bad_url.output
    assert bad_tenant.exit_code == 1
    assert "nosuch" in bad_tenant.output


def test_webhook_list_and_remove(cli: CliRunner) -> None:
    cli.invoke(main, ["webhook", "add", "acme", "https://a.example.com/"])
    listed = cli.invoke(main, ["webhook", "list", "acme"])
    webhook_id = listed.output.splitlines()[1].split("\t")[0]

    removed = cli.invoke(main, ["webhook", "remove", webhook_id])
    again = cli.invoke(main, ["webhook", "remove", webhook_id])

    assert "https://a.example.com/\t0\t0\t-" in listed.output
    assert removed.exit_code == 0
    assert again.exit_code == 1
    assert cli.invoke(main, ["webhook", "list", "acme"]).output.splitlines()[1:] == []


def test_webhook_redeliver_sends_dead_letters_again_and_log_shows_every_attempt(
    cli: CliRunner, store: SqlStore, settings: Settings, receiver: Receiver
) -> None:
    cli.invoke(main, ["webhook", "add", "acme", receiver.url, "--after", "0"])
    _append_user_created(store)
    receiver.status = 500
    worker = DeliveryWorker(EventStore.of(store), dataclasses.replace(settings, webhook_max_attempts=1))
    assert asyncio.run(worker.run_once()) == 1
    webhook_id = cli.invoke(main, ["webhook", "list", "acme"]).output.splitlines()[1].split("\t")[0]

    receiver.status = 200
    result = cli.invoke(main, ["webhook", "redeliver", webhook_id])
    nothing_left = cli.invoke(main, ["webhook", "redeliver", webhook_id])
    log = cli.invoke(main, ["webhook", "log", webhook_id])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "seq 1: redelivered (200)"
    assert nothing_left.output.strip() == "No dead letters to redeliver."
    rows = [line.split("\t") for line in log.output.strip().splitlines()[1:]]
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("1", "1", "dead", "500"), ("1", "2", "redelivered", "200")]
    assert receiver.seqs() == [1]


def test_events_list_prints_the_feed_as_json_lines(cli: CliRunner, store: SqlStore) -> None:
    _append_user_created(store)
    _append_user_created(store)

    result = cli.invoke(main, ["events", "list", "acme", "--after", "1"])

    assert result.exit_code == 0, result.output
    assert [orjson.loads(line)["seq"] for line in result.output.splitlines()] == [2]


def _acme(store: SqlStore) -> str:
    return asyncio.run(tenants.require_tenant(store, "acme")).id


def _append_user_created(store: SqlStore) -> None:
    """A committed event, written the way ResourceService writes one."""
    tenant_id = _acme(store)
    draft = EventDraft(str(uuid.uuid4()), EventType.USER_CREATED, "User", "u1", "2026-01-01T00:00:00.000Z", None)

    async def append() -> None:
        async with store.unit_of_work(tenant_id) as uow:
            await uow.append_events([draft])

    asyncio.run(append())
