"""The ``scimhub`` command line (click): serve, db, tenant, token, webhook, events."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable
from types import FrameType
from typing import Any
from typing import TypeVar

import click
import orjson

from scimhub.admin.schema_cli import schema
from scimhub.errors import ScimError
from scimhub.events import feed
from scimhub.events import webhooks as webhook_ops
from scimhub.events.sender import Sender
from scimhub.observability import configure_standalone_logging
from scimhub.protocol import tenants as tenant_ops
from scimhub.protocol.tenant_config import check_setting
from scimhub.protocol.tenant_config import setting_keys
from scimhub.settings import Settings
from scimhub.store.database import release_loop_connections
from scimhub.store.events_sql import Attempt
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.events_sql import Webhook
from scimhub.store.factory import database_for
from scimhub.store.factory import open_store
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.store.sql import SqlStore

T = TypeVar("T")


def _run(coro: Awaitable[T]) -> T:
    async def wrapper() -> T:
        try:
            return await coro
        finally:
            await release_loop_connections()

    try:
        return asyncio.run(wrapper())
    except ScimError as exc:
        raise click.ClickException(exc.detail) from None


def _store(settings: Settings) -> SqlStore:
    store = open_store(settings)
    if not _run(store.db.is_current()):
        # PostgreSQL is shared by several instances: migrating it is a release step of its own.
        if settings.auto_migrate and store.db.name == "sqlite":
            _run(store.db.upgrade())
        else:
            raise click.ClickException("The database schema is not current; run: scimhub db upgrade")
    return store


@click.group()
@click.version_option(package_name="scimhub")
def main() -> None:
    """scimhub: a multi-tenant SCIM 2.0 provisioning server.

    The database is chosen by SCIMHUB_DATABASE_URL (default: sqlite:///scimhub.db).
    """
    try:
        Settings.from_env()  # a bad SCIMHUB_* value: one clear line, not a traceback
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1, SCIMHUB_HOST).")
@click.option("--port", default=None, type=int, help="Port (default 8000, SCIMHUB_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the SCIM server (base URL http://HOST:PORT/scim/v2)."""
    import uvicorn

    from scimhub.app import create_app

    settings = Settings.from_env(host=host, port=port)
    store = _store(settings)
    if not _run(store.list_tenants()):
        click.echo(
            "No tenant exists yet. Create one and a bearer token for your identity provider:\n"
            "  scimhub tenant create acme\n"
            "  scimhub token issue acme\n",
            err=True,
        )
    click.echo(f"SCIM base URL: http://{settings.host}:{settings.port}/scim/v2", err=True)
    configure_standalone_logging(settings.log_level)
    # uvicorn re-raises the SIGTERM it handled once the graceful shutdown is done; that re-raise
    # (or a SIGTERM before uvicorn starts) ends the process normally, with status 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    # Our access log (JSON, with tenant and request id) replaces uvicorn's; on SIGTERM uvicorn
    # stops accepting, lets in-flight requests finish, then the lifespan stops the worker.
    uvicorn.run(
        create_app(settings, store=store),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
    )


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply Alembic migrations up to the newest revision."""
    settings = Settings.from_env()
    database = database_for(settings)

    async def upgrade() -> None:
        await database.upgrade()
        await database.dispose()

    _run(upgrade())
    click.echo("Database is at the newest revision.")


@main.group()
def tenant() -> None:
    """Tenants: one per customer directory."""


@tenant.command("create")
@click.argument("name")
def tenant_create(name: str) -> None:
    """Create tenant NAME."""
    try:
        created = _run(tenant_ops.create_tenant(_store(Settings.from_env()), name))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Created tenant {created.name} ({created.id}).")
    click.echo(f"Issue a token for it with: scimhub token issue {created.name}")


@tenant.command("list")
def tenant_list() -> None:
    """List tenants."""
    for t in _run(_store(Settings.from_env()).list_tenants()):
        click.echo(f"{t.id}\t{t.name}\t{t.created_at}")


@tenant.command("set")
@click.argument("name")
@click.argument("key", metavar="KEY")
@click.argument("value", metavar="VALUE")
def tenant_set(name: str, key: str, value: str) -> None:
    """Set KEY to VALUE for tenant NAME (VALUE "default" removes the override).

    Keys: policy.<switch> (on/off; see the README's IdP leniency table) and rate_limit
    (e.g. 1200/minute, or off). Servers pick changes up within 10 seconds.
    """
    store = _store(Settings.from_env())
    stored = None
    if value != "default":
        try:
            stored = check_setting(key, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="KEY/VALUE") from None
    elif key not in setting_keys():
        raise click.BadParameter(f"Unknown tenant setting {key!r}; known: {', '.join(setting_keys())}.")

    async def apply() -> None:
        found = await tenant_ops.require_tenant(store, name)
        await store.set_tenant_setting(found.id, key, stored)

    _run(apply())
    click.echo(f"{name}: {key} = {stored if stored is not None else 'default'}")


@tenant.command("show")
@click.argument("name")
def tenant_show(name: str) -> None:
    """Show tenant NAME's settings (overrides of the server defaults)."""
    store = _store(Settings.from_env())

    async def values() -> dict[str, str]:
        found = await tenant_ops.require_tenant(store, name)
        return await store.tenant_settings(found.id)

    current = _run(values())
    for key in setting_keys():
        click.echo(f"{key}\t{current.get(key, 'default')}")


@main.group()
def token() -> None:
    """Bearer tokens for the SCIM API."""


@token.command("issue")
@click.argument("tenant_name", metavar="TENANT")
@click.option(
    "--expires-in",
    type=click.IntRange(min=1),
    default=None,
    metavar="DAYS",
    help="Expire the token after DAYS days (default: never).",
)
def token_issue(tenant_name: str, expires_in: int | None) -> None:
    """Issue a token for TENANT; the token is printed once, on the last line."""
    settings = Settings.from_env()
    store = _store(settings)

    async def issue() -> tuple[str, str, str | None]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        record, secret = await tenant_ops.issue_token(store, found, settings.token_pepper, expires_in)
        return record.id, secret, record.expires_at

    token_id, secret, expires_at = _run(issue())
    click.echo(
        f"Token id {token_id} for tenant {tenant_name}"
        f"{f', expires {expires_at}' if expires_at else ''}. It is shown only now:"
    )
    click.echo(secret)


@token.command("list")
@click.argument("tenant_name", metavar="TENANT")
def token_list(tenant_name: str) -> None:
    """List TENANT's tokens: id, prefix, created, last used, expiry, revoked."""
    store = _store(Settings.from_env())

    async def records() -> list[tuple[str, ...]]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return [
            (r.id, r.prefix, r.created_at, r.last_used_at or "-", r.expires_at or "-", r.revoked_at or "-")
            for r in await store.list_tokens(found.id)
        ]

    click.echo("id\tprefix\tcreated\tlast_used\texpires\trevoked")
    for row in _run(records()):
        click.echo("\t".join(row))


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke TOKEN_ID; running servers refuse it within SCIMHUB_TOKEN_RECHECK_SECONDS (default 1 s)."""
    _run(tenant_ops.revoke_token(_store(Settings.from_env()), token_id))
    click.echo(f"Revoked token {token_id}; servers refuse it within their SCIMHUB_TOKEN_RECHECK_SECONDS (default 1 s).")


@token.command("rotate")
@click.argument("token_id")
@click.option(
    "--overlap",
    "overlap_hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    metavar="HOURS",
    help="How long the old token keeps working.",
)
def token_rotate(token_id: str, overlap_hours: float) -> None:
    """Issue a new token for TOKEN_ID's tenant; the old one expires after the overlap.

    The new token is printed once, alone on the last line.
    """
    settings = Settings.from_env()
    record, secret = _run(tenant_ops.rotate_token(_store(settings), token_id, overlap_hours, settings.token_pepper))
    click.echo(
        f"New token id {record.id}; token {token_id} stops working in {overlap_hours:g} h. It is shown only now:"
    )
    click.echo(secret)


# -- directory sync: webhooks and the event feed ------------------------------------------------
def _events(settings: Settings) -> tuple[SqlStore, EventStore]:
    store = _store(settings)
    return store, EventStore.of(store)


@main.group()
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
def webhook_add(tenant_name: str, url: str, after: int | None, public_only: bool) -> None:
    """Send TENANT's events to URL; the signing secret is printed once, on the last line.

    The operator's command may point a webhook anywhere, an internal service included (the admin
    API refuses non-public addresses unless SCIMHUB_WEBHOOK_ALLOW_PRIVATE is set)."""
    store, events = _events(Settings.from_env())

    async def add() -> Webhook:
        found = await tenant_ops.require_tenant(store, tenant_name)
        try:
            return await webhook_ops.add_webhook(events, found.id, url, after, allow_private=not public_only)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    created = _run(add())
    click.echo(f"Webhook {created.id} for tenant {tenant_name}: {created.url}, from seq {created.delivered_seq + 1}.")
    click.echo("Verify deliveries with this Standard Webhooks signing secret. It is shown only now:")
    click.echo(created.secret)


@webhook.command("list")
@click.argument("tenant_name", metavar="TENANT")
def webhook_list(tenant_name: str) -> None:
    """List TENANT's webhooks: id, url, delivered seq, failed attempts on the head event, next retry."""
    store, events = _events(Settings.from_env())

    async def rows() -> list[Webhook]:
        return await events.list_webhooks((await tenant_ops.require_tenant(store, tenant_name)).id)

    click.echo("id\turl\tdelivered_seq\tattempts\tnext_attempt_at")
    for w in _run(rows()):
        click.echo(f"{w.id}\t{w.url}\t{w.delivered_seq}\t{w.attempts}\t{w.next_attempt_at or '-'}")


@webhook.command("remove")
@click.argument("webhook_id")
def webhook_remove(webhook_id: str) -> None:
    """Remove webhook WEBHOOK_ID and its delivery log."""
    _, events = _events(Settings.from_env())
    if not _run(events.remove_webhook(webhook_id)):
        raise click.ClickException(f"No webhook with id {webhook_id}.")
    click.echo(f"Removed webhook {webhook_id}.")


@webhook.command("log")
@click.argument("webhook_id")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50, help="Most recent attempts shown.")
def webhook_log(webhook_id: str, limit: int) -> None:
    """The delivery log of WEBHOOK_ID: attempts with outcome, status and latency."""
    _, events = _events(Settings.from_env())
    attempts = _run(events.attempts(webhook_id, limit=limit, latest=True))
    click.echo("attempted_at\tseq\tattempt\toutcome\tstatus\tlatency_ms\terror")
    for a in attempts:
        click.echo(
            f"{a.attempted_at}\t{a.seq}\t{a.attempt}\t{a.outcome.value}\t{a.status_code or '-'}\t"
            f"{a.latency_ms if a.latency_ms is not None else '-'}\t{a.error or '-'}"
        )


@webhook.command("redeliver")
@click.argument("webhook_id")
@click.option("--seq", type=int, default=None, help="Only this dead-lettered event (default: all of them).")
def webhook_redeliver(webhook_id: str, seq: int | None) -> None:
    """Send WEBHOOK_ID's dead-lettered events again, now, and print each outcome."""
    settings = Settings.from_env()
    _, events = _events(settings)

    async def send() -> list[Attempt]:
        found = await events.get_webhook(webhook_id)
        if found is None:
            raise click.ClickException(f"No webhook with id {webhook_id}.")
        return await webhook_ops.redeliver(events, Sender(settings.webhook_timeout_seconds), found, seq)

    attempts = _run(send())
    if not attempts:
        click.echo("No dead letters to redeliver.")
    for a in attempts:
        click.echo(f"seq {a.seq}: {a.outcome.value} ({a.status_code or a.error})")
    if any(a.outcome is not Outcome.REDELIVERED for a in attempts):
        sys.exit(1)


@main.group()
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

    for event in _run(page()).events:
        click.echo(orjson.dumps(event.to_json()).decode())


@main.command("requests")
@click.argument("tenant_name", metavar="TENANT")
@click.option("--failed", is_flag=True, help="Only requests answered with an error (status >= 400).")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=20, show_default=True)
@click.option("--bodies", is_flag=True, help="Also print the (redacted, size-capped) bodies.")
def requests_cmd(tenant_name: str, failed: bool, limit: int, bodies: bool) -> None:
    """TENANT's last SCIM requests, newest first: why did the IdP's provisioning fail?

    Entries reach the database within about a second of the response.
    """
    settings = Settings.from_env()
    store = _store(settings)
    log_store = RequestLogStore(store.db, settings.request_log_size)

    async def recent() -> list[dict[str, Any]]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return await log_store.recent(found.id, limit, failed)

    for entry in _run(recent()):
        query = f"?{entry['query']}" if entry["query"] else ""
        click.echo(
            f"{entry['at']}  {entry['status']}  {entry['method']} {entry['path']}{query}  "
            f"{entry['latencyMs']} ms  {entry['error'] or ''}".rstrip()
        )
        if bodies:
            click.echo(f"    request:  {entry['requestBody'] or '-'}")
            click.echo(f"    response: {entry['responseBody'] or '-'}")


main.add_command(schema)
