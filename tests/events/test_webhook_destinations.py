"""Webhook destinations (issue 22 item 7): a webhook added through the admin API may point at
public addresses only, unless SCIMHUB_WEBHOOK_ALLOW_PRIVATE; the check is made when it is added
and again on every connection, after DNS resolution, on the address actually connected to."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING
from typing import Any

import httpcore2
import pytest
from click.testing import CliRunner

from scimhub.admin.cli import main
from scimhub.app import create_app
from scimhub.events import destinations
from scimhub.events import webhooks as webhook_ops
from scimhub.events.destinations import DestinationRefused
from scimhub.events.destinations import IPAddress
from scimhub.events.destinations import PublicOnlyBackend
from scimhub.events.destinations import refusal
from scimhub.events.model import Event
from scimhub.events.sender import Sender
from scimhub.events.worker import DeliveryWorker
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.events.test_webhook_delivery import add_webhook
from tests.events.test_webhook_delivery import attempts

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

PUBLIC = "93.184.216.34"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The default: the admin API refuses private destinations (the suite's ``fast`` allows them)."""
    return dataclasses.replace(settings, webhook_allow_private=Settings().webhook_allow_private)


class FakeDns:
    """A resolver answering from a table; each lookup takes the next answer of the host's list."""

    def __init__(self, **answers: list[list[str]]) -> None:
        self.answers = {host.replace("_", "."): list(seq) for host, seq in answers.items()}
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        queue = self.answers.get(host)
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return [ipaddress.ip_address(a) for a in answer]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is not a public address (loopback)"),
        ("http://localhost/hook", "'localhost' resolves to "),
        ("http://2130706433/hook", "'2130706433' resolves to 127.0.0.1, which is not a public address (loopback)"),
        ("http://10.0.0.5/hook", "(private)"),
        ("http://172.16.0.1/hook", "(private)"),
        ("https://192.168.1.1/hook", "(private)"),
        ("http://169.254.169.254/latest/meta-data/", "(link-local)"),
        ("http://100.64.0.1/hook", "(not globally reachable)"),
        ("http://0.0.0.0/hook", "(unspecified)"),
        ("http://224.0.0.1/hook", "(multicast)"),
        ("http://240.0.0.1/hook", "(private)"),
        ("http://[::1]/hook", "::1 is not a public address (loopback)"),
        ("http://[::ffff:127.0.0.1]/hook", "(loopback, embedded in ::ffff:7f00:1)"),
        ("http://[64:ff9b::a00:1]/hook", "(private, embedded in 64:ff9b::a00:1)"),
        ("http://[fe80::1]/hook", "(link-local)"),
        ("http://[fc00::1]/hook", "(private)"),
        ("http://[ff02::1]/hook", "(multicast)"),
    ],
)
async def test_the_admin_api_refuses_a_non_public_destination_and_stores_nothing(
    app: Any, acme: TenantAccess, url: str, reason: str
) -> None:
    async with admin_client(app) as admin:
        response = await admin.post("/tenants/acme/webhooks", json={"url": url})
        listed = await admin.get("/tenants/acme/webhooks")

    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"]
    assert "is not a public address" in response.json()["detail"]
    assert listed.json() == {"webhooks": []}


async def test_the_admin_api_accepts_a_public_destination(app: Any, acme: TenantAccess) -> None:
    created = await add_webhook(app, f"https://{PUBLIC}/hooks/scim")

    assert created["allowPrivate"] is False


async def test_with_allow_private_the_admin_api_accepts_loopback(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    app = create_app(dataclasses.replace(settings, webhook_allow_private=True), store=store)

    assert (await add_webhook(app, receiver.url))["allowPrivate"] is True


async def test_a_name_that_does_not_resolve_is_refused(store: SqlStore, acme: TenantAccess) -> None:
    events = EventStore.of(store)
    with pytest.raises(DestinationRefused, match=r"The host 'hooks\.example\.test' does not resolve"):
        await webhook_ops.add_webhook(
            events, acme.tenant_id, "https://hooks.example.test/", allow_private=False, resolve=FakeDns()
        )

    assert await events.list_webhooks(acme.tenant_id) == []


async def test_a_name_with_one_private_address_among_public_ones_is_refused(
    store: SqlStore, acme: TenantAccess
) -> None:
    dns = FakeDns(hooks_example_test=[[PUBLIC, "10.1.2.3"]])
    with pytest.raises(DestinationRefused, match=r"resolves to 10\.1\.2\.3, which is not a public address \(private\)"):
        await webhook_ops.add_webhook(
            EventStore.of(store), acme.tenant_id, "https://hooks.example.test/", allow_private=False, resolve=dns
        )


def test_the_operators_cli_adds_any_url_unless_public_only(settings: Settings, store: SqlStore) -> None:
    cli = CliRunner(env={"SCIMHUB_DATABASE_URL": settings.database_url})
    assert cli.invoke(main, ["tenant", "create", "acme"]).exit_code == 0

    refused = cli.invoke(main, ["webhook", "add", "acme", "http://127.0.0.1:9000/hook", "--public-only"])
    nothing = cli.invoke(main, ["webhook", "list", "acme"]).output.splitlines()[1:]
    added = cli.invoke(main, ["webhook", "add", "acme", "http://127.0.0.1:9000/hook"])

    assert refused.exit_code == 1
    assert "127.0.0.1 is not a public address (loopback)" in refused.output
    assert nothing == []
    assert added.exit_code == 0, added.output


async def test_a_name_rebound_to_loopback_after_it_was_added_is_refused_at_delivery(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    """DNS rebinding: public when the webhook was added, the receiver's loopback address since."""
    port = receiver.url.split(":")[2].split("/")[0]
    dns = FakeDns(rebind_example_test=[[PUBLIC], ["127.0.0.1"]])
    events = EventStore.of(store)
    hook = await webhook_ops.add_webhook(
        events, acme.tenant_id, f"http://rebind.example.test:{port}/hook", 0, allow_private=False, resolve=dns
    )
    app = create_app(settings, store=store)
    await create_user(acme.client, "alice")
    worker = DeliveryWorker(events, settings, sender=Sender(settings.webhook_timeout_seconds, resolve=dns))

    assert await worker.run_once() == 1

    assert receiver.received == []
    (attempt,) = await attempts(app, hook.id)
    assert (attempt["outcome"], attempt["statusCode"]) == ("retry", None)
    assert attempt["error"] == (
        "ConnectError: Refused: 'rebind.example.test' resolves to 127.0.0.1, which is not a public address"
        " (loopback). (SCIMHUB_WEBHOOK_ALLOW_PRIVATE)"
    )
    assert dns.asked == ["rebind.example.test", "rebind.example.test"]


async def test_redelivery_of_a_public_only_webhook_is_refused_too(
    acme: TenantAccess, receiver: Receiver, settings: Settings, store: SqlStore
) -> None:
    events = EventStore.of(store)
    hook = await events.add_webhook(
        "wh-1", acme.tenant_id, receiver.url, "whsec_c2VjcmV0", "2026-01-01T00:00:00.000Z", 0
    )
    app = create_app(dataclasses.replace(settings, webhook_max_attempts=1), store=store)
    await create_user(acme.client, "alice")
    await DeliveryWorker(events, dataclasses.replace(settings, webhook_max_attempts=1)).run_once()

    async with admin_client(app) as admin:
        response = await admin.post(f"/tenants/acme/webhooks/{hook.id}/redeliver", json={})

    (attempt,) = response.json()["attempts"]
    assert (attempt["outcome"], attempt["error"][:22]) == ("dead", "ConnectError: Refused:")
    assert receiver.received == []


class SpyBackend(httpcore2.AsyncNetworkBackend):
    """Records where it is asked to connect; ``refuse`` of those fail as connection errors."""

    def __init__(self, refuse: Iterable[str] = ()) -> None:
        self.refuse = set(refuse)
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        self.hosts.append(host)
        if host in self.refuse:
            raise httpcore2.ConnectError("connection refused")
        return httpcore2.AsyncMockStream([])


async def test_the_connection_goes_to_the_checked_address_not_to_a_second_lookup() -> None:
    spy = SpyBackend(refuse={PUBLIC})
    dns = FakeDns(hooks_example_test=[[PUBLIC, "2606:2800:220:1::1"], ["127.0.0.1"]])
    backend = PublicOnlyBackend(dns, spy)

    await backend.connect_tcp("hooks.example.test", 443)

    assert spy.hosts == [PUBLIC, "2606:2800:220:1::1"]  # addresses, in order: the name is never looked up again
    assert dns.asked == ["hooks.example.test"]


async def test_no_connection_is_opened_when_any_address_is_not_public() -> None:
    spy = SpyBackend()
    backend = PublicOnlyBackend(FakeDns(hooks_example_test=[[PUBLIC, "169.254.169.254"]]), spy)

    with pytest.raises(
        httpcore2.ConnectError, match=r"169\.254\.169\.254, which is not a public address \(link-local\)"
    ):
        await backend.connect_tcp("hooks.example.test", 443)

    assert spy.hosts == []


@pytest.mark.parametrize(
    "address", ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"]
)
def test_public_addresses_are_allowed_also_when_embedded_in_ipv6(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.2", "loopback"),
        ("192.0.2.1", "private"),  # documentation range
        ("2002:7f00:1::", "loopback, embedded in 2002:7f00:1::"),  # 6to4 of 127.0.0.1
        ("::", "unspecified"),
        ("255.255.255.255", "private"),
    ],
)
def test_special_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


async def test_a_public_only_client_sends_to_the_resolved_address_with_the_name_as_host(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole path (httpx, the pool, our backend): here loopback passes for public, so that the
    request can reach the local receiver by a name no real resolver knows."""
    monkeypatch.setattr(destinations, "refusal", lambda address: None)
    port = receiver.url.split(":")[2].split("/")[0]
    dns = FakeDns(hooks_example_test=[["127.0.0.1"]])
    sender = Sender(2.0, resolve=dns)
    event = Event("t1", 1, "e1", "user.created", {"type": "user.created"})

    async with sender.client(public_only=True) as client:
        result = await sender.send(client, f"http://hooks.example.test:{port}/hook", "whsec_c2VjcmV0", event)

    assert (result.ok, result.error) == (True, None)
    assert [d.headers["host"] for d in receiver.received] == [f"hooks.example.test:{port}"]
    assert dns.asked == ["hooks.example.test"]
