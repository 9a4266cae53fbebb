"""Directory sync from the command line: ``scimhub webhook``, ``scimhub events``, ``scimhub requests``.

The event store, the webhook sender (httpx2) and the request log are imported inside the
commands: other commands must not pay for them (see admin/common.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import click
import orjson

from scimhub.admin.common import echo_delivery_log
from scimhub.admin.common import echo_redelivered
from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.events import feed
from scimhub.events.batch import MAX_BATCH
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.store.events_sql import Attempt
    from scimhub.store.events_sql import EventStore
    from scimhub.store.events_sql import Webhook
    from scimhub.store.sql import SqlStore


def _events(settings: Settings) -> tuple[SqlStore, EventStore]:
    from scimhub.store.events_sql import EventStore

    store = open_store(settings)
    return store, EventStore.of(store)


@click.group()
def webhook() -> None:
    """Webhooks: signed event delivery (Standard Webhooks) to the host application."""


@webhook.command("add")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("url")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=None,
    metavar="SEQ",
    help="Deliver the events after SEQ (0: every retained event); default: only new events.",
)
@click.option(
    "--public-only",
    is_flag=True,
    help="Refuse a URL that is or resolves to a loopback, private, link-local... address, now and at every delivery.",
)
@click.option(
    "--batch",
    type=click.IntRange(min=1, max=MAX_BATCH),
    default=1,
    show_default=True,
    metavar="N",
    help="Up to N events in one signed request (opt-in batch delivery; 1: one event a request, Standard Webhooks).",
)
def webhook_add(tenant_name: str, url: str, after: int | None, public_only: bool, batch: int) -> None:
    """Send TENANT's events to URL; the signing secret is printed once, on the last line.

    The operator's command may point a webhook anywhere, an internal service included (the admin
    API refuses non-public addresses unless SCIMHUB_WEBHOOK_ALLOW_PRIVATE is set)."""
    from scimhub.events import webhooks as webhook_ops

    store, events = _events(Settings.from_env())

    async def add() -> Webhook:
        found = await tenant_ops.require_tenant(store, tenant_name)
        try:
            return await webhook_ops.add_webhook(
                events, found.id, url, after, allow_private=not public_only, batch=batch
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    created = run(add())
    batched = f", up to {created.batch} events a request" if created.batch > 1 else ""
    click.echo(
        f"Webhook {created.id} for tenant {tenant_name}: {created.url}, from seq {created.delivered_seq + 1}{batched}."
    )
    click.echo("Verify deliveries with this Standard Webhooks signing secret. It is shown only now:")
    click.echo(created.secret)


@webhook.command("list")
@click.argument("tenant_name", metavar="TENANT")
def webhook_list(tenant_name: str) -> None:
    """List TENANT's webhooks: id, url, delivered seq, failed attempts on the head event, next retry, batch size."""
    store, events = _events(Settings.from_env())

    async def rows() -> list[Webhook]:
        return await events.list_webhooks((await tenant_ops.require_tenant(store, tenant_name)).id)

    click.echo("id\turl\tdelivered_seq\tattempts\tnext_attempt_at\tbatch")
    for w in run(rows()):
        click.echo(f"{w.id}\t{w.url}\t{w.delivered_seq}\t{w.attempts}\t{w.next_attempt_at or '-'}\t{w.batch}")


@webhook.command("remove")
@click.argument("webhook_id")
def webhook_remove(webhook_id: str) -> None:
    """Remove webhook WEBHOOK_ID and its delivery log."""
    _, events = _events(Settings.from_env())
    if not run(events.remove_webhook(webhook_id)):
        raise click.ClickException(f"No webhook with id {webhook_id}.")
    click.echo(f"Removed webhook {webhook_id}.")


@webhook.command("log")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50, help="Most recent attempts shown.")
def webhook_log(webhook_id: str, limit: int) -> None:
    """The delivery log of WEBHOOK_ID: attempts with outcome, status and latency."""
    _, events = _events(Settings.from_env())
    attempts = run(events.attempts(webhook_id, limit=limit, latest=True))
    echo_delivery_log(attempts)


@webhook.command("redeliver")
@click.argument("webhook_id")
@click.option("--seq", type=int, default=None, help="Only this dead-lettered event (default: all of them).")
def webhook_redeliver(webhook_id: str, seq: int | None) -> None:
    """Send WEBHOOK_ID's dead-lettered events again, now, and print each outcome."""
    from scimhub.events import webhooks as webhook_ops
    from scimhub.events.sender import Sender

    settings = Settings.from_env()
    _, events = _events(settings)

    async def send() -> list[Attempt]:
        found = await events.get_webhook(webhook_id)
        if found is None:
            raise click.ClickException(f"No webhook with id {webhook_id}.")
        return await webhook_ops.redeliver(events, Sender(settings.webhook_timeout_seconds), found, seq)

    echo_redelivered(run(send()))


@click.group()
def events() -> None:
    """The event feed (the same as GET /admin/v1/tenants/{tenant}/events)."""


@events.command("list")
@click.argument("tenant_name", metavar="TENANT")
@click.option("--after", type=click.IntRange(min=0), default=0, metavar="SEQ", help="Events after SEQ.")
@click.option("--limit", type=click.IntRange(min=1, max=feed.MAX_LIMIT), default=feed.DEFAULT_LIMIT)
def events_list(tenant_name: str, after: int, limit: int) -> None:
    """Print TENANT's events after SEQ as JSON lines (the last line's seq is the next cursor)."""
    store, event_store = _events(Settings.from_env())

    async def page() -> feed.FeedPage:
        found = await tenant_ops.require_tenant(store, tenant_name)
        try:
            return await feed.read_feed(event_store, found.id, after, limit)
        except feed.CursorExpired as exc:
            raise click.ClickException(str(exc)) from None

    found = run(page())
    for event in found.events:
        click.echo(orjson.dumps(event.to_json()).decode())
    if found.held is not None:
        held = found.held
        when = f"since {held.since} ({held.kind})"
        click.echo(f"{tenant_name}: held from seq {held.from_seq} {when}: {held.reason}", err=True)


@click.command("requests")
@click.argument("tenant_name", metavar="TENANT")
@click.option("--failed", is_flag=True, help="Only requests answered with an error (status >= 400).")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True)
@click.option("--bodies", is_flag=True, help="Also print the (redacted, size-capped) bodies.")
def requests_cmd(tenant_name: str, failed: bool, limit: int, bodies: bool) -> None:
    """TENANT's last SCIM requests, newest first: why did the IdP's provisioning fail?

    Entries reach the database within about a second of the response.
    """
    from scimhub.store.request_log_sql import RequestLogStore

    settings = Settings.from_env()
    store = open_store(settings)
    log_store = RequestLogStore(store.db, settings.request_log_size)

    async def recent() -> list[dict[str, Any]]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await log_store.recent(found.id, limit, failed)

    for entry in run(recent()):
        query = f"?{entry['query']}" if entry["query"] else ""
        click.echo(
            f"{entry['at']}  {entry['status']}  {entry['method']} {entry['path']}{query}  "
            f"{entry['latencyMs']} ms  {entry['error'] or ''}".rstrip()
        )
        if entry["ignored"]:  # unknown attributes the write ignored: nothing is dropped silently
            click.echo(f"    ignored:  {', '.join(entry['ignored'])}")
        if bodies:
            click.echo(f"    request:  {entry['requestBody'] or '-'}")
            click.echo(f"    response: {entry['responseBody'] or '-'}")
