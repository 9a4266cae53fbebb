"""RFC 9967 SET streams from the command line: ``scimhub stream add/list/remove/log/keys/…``.

The stream store and joserfc are imported inside the commands (admin/common.py says why).
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING

import click

from scimhub.admin.common import echo_delivery_log
from scimhub.admin.common import echo_redelivered
from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.sets.keys import SigningKey
    from scimhub.store.sets_sql import Stream
    from scimhub.store.sets_sql import StreamStore
    from scimhub.store.sql import SqlStore


def _streams(settings: Settings) -> tuple[SqlStore, StreamStore]:
    from scimhub.sets import keys
    from scimhub.store.sets_sql import StreamStore

    if not keys.available():
        raise click.ClickException("SET streams need the sets extra: pip install 'scimhub[sets]'")
    store = open_store(settings)
    return store, StreamStore(store.db)


@click.group()
def stream() -> None:
    """RFC 9967 SET streams: each event as a signed Security Event Token, pushed or polled."""


@stream.command("add")
@click.argument("tenant_name", metavar="TENANT")
@click.option("--push", "push_url", metavar="URL", default=None, help="Push the SETs to URL (RFC 8935).")
@click.option("--poll", is_flag=True, help="The receiver polls for the SETs (RFC 8936); prints its bearer token.")
@click.option("--audience", required=True, help="The SETs' aud claim: who the receiver is.")
@click.option("--full", is_flag=True, help="Full events (the resource as data) instead of notices (attribute names).")
@click.option("--issuer", default=None, metavar="URL", help="The SETs' iss claim (default: SCIMHUB_BASE_URL).")
@click.option(
    "--after",
    type=click.IntRange(min=0),
    default=None,
    metavar="SEQ",
    help="Start after SEQ (0: every retained event); default: only new events.",
)
@click.option("--public-only", is_flag=True, help="Refuse a push URL that is or resolves to a non-public address.")
def stream_add(
    tenant_name: str,
    push_url: str | None,
    poll: bool,
    audience: str,
    full: bool,
    issuer: str | None,
    after: int | None,
    public_only: bool,
) -> None:
    """Send TENANT's events as SETs to a push URL, or keep them for a poller (--poll)."""
    from scimhub.http.sets import jwks_path
    from scimhub.http.sets import poll_path
    from scimhub.sets import streams as stream_ops

    if (push_url is None) == (not poll):
        raise click.UsageError("Give exactly one of --push URL and --poll.")
    settings = Settings.from_env()
    issuer = issuer or settings.base_url
    if not issuer:
        raise click.UsageError("Give --issuer (the tenant's SCIM base URL) or set SCIMHUB_BASE_URL.")
    store, streams = _streams(settings)

    async def add() -> tuple[Stream, str | None]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        try:
            return await stream_ops.add_stream(
                streams,
                found.id,
                audience=audience,
                issuer=issuer,
                push_url=push_url,
                full=full,
                after=after,
                allow_private=not public_only,
            )
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None

    created, token = run(add())
    where = created.url if created.url is not None else f"poll at {poll_path(created.id)}"
    form = "full" if created.full else "notice"
    click.echo(
        f"Stream {created.id} for tenant {tenant_name}: {where}, {form} events from seq {created.delivered_seq + 1}."
    )
    click.echo(f"Receivers verify the SETs with the keys published at {jwks_path(created.tenant_id)}.")
    if token is not None:
        click.echo("The poller authenticates with this bearer token. It is shown only now:")
        click.echo(token)


@stream.command("list")
@click.argument("tenant_name", metavar="TENANT")
def stream_list(tenant_name: str) -> None:
    """List TENANT's streams: id, mode, push URL, audience, form, cursor, failed attempts, next retry."""
    store, streams = _streams(Settings.from_env())

    async def rows() -> list[Stream]:
        return await streams.list_streams((await tenant_ops.require_tenant(store, tenant_name)).id)

    click.echo("id\tmode\turl\taudience\tform\tdelivered_seq\tattempts\tnext_attempt_at")
    for s in run(rows()):
        form = "full" if s.full else "notice"
        click.echo(
            f"{s.id}\t{s.mode}\t{s.url or '-'}\t{s.audience}\t{form}\t{s.delivered_seq}\t{s.attempts}\t"
            f"{s.next_attempt_at or '-'}"
        )


@stream.command("remove")
@click.argument("stream_id")
def stream_remove(stream_id: str) -> None:
    """Remove stream STREAM_ID, its acks and its delivery log."""
    _, streams = _streams(Settings.from_env())
    if not run(streams.remove_stream(stream_id)):
        raise click.ClickException(f"No stream with id {stream_id}.")
    click.echo(f"Removed stream {stream_id}.")


@stream.command("log")
@click.argument("stream_id")
@click.option("--limit", type=click.IntRange(min=1, max=1000), default=50, help="Most recent entries shown.")
def stream_log(stream_id: str, limit: int) -> None:
    """The delivery log of STREAM_ID: push attempts, poll acks and SET errors."""
    _, streams = _streams(Settings.from_env())
    echo_delivery_log(run(streams.attempts(stream_id, limit=limit, latest=True)))


@stream.command("redeliver")
@click.argument("stream_id")
@click.option("--seq", type=int, default=None, help="Only this dead-lettered SET (default: all of them).")
def stream_redeliver(stream_id: str, seq: int | None) -> None:
    """Push STREAM_ID's dead-lettered SETs again, now, and print each outcome."""
    from scimhub.events.sender import Sender
    from scimhub.schema.registry import default_registry
    from scimhub.sets.push import redeliver
    from scimhub.sets.signer import SetSigner
    from scimhub.store.events_sql import Attempt

    settings = Settings.from_env()
    _, streams = _streams(settings)
    endpoints = {rt.id: rt.endpoint for rt in default_registry().resource_types.values()}
    signer = SetSigner(streams, endpoints, lambda: datetime.now(UTC))

    async def send() -> list[Attempt]:
        found = await streams.get_stream(stream_id)
        if found is None or found.url is None:
            raise click.ClickException(f"No push stream with id {stream_id}.")
        return await redeliver(Sender(settings.webhook_timeout_seconds), signer, found, seq)

    echo_redelivered(run(send()))


@stream.command("keys")
@click.argument("tenant_name", metavar="TENANT")
def stream_keys(tenant_name: str) -> None:
    """TENANT's SET signing keys: kid, algorithm, state (active, published, retired), created."""
    store, streams = _streams(Settings.from_env())

    async def rows() -> list[SigningKey]:
        return await streams.keys((await tenant_ops.require_tenant(store, tenant_name)).id)

    click.echo("kid\talg\tstate\tcreated_at")
    for k in run(rows()):
        click.echo(f"{k.kid}\t{k.alg}\t{k.state}\t{k.created_at}")


@stream.command("rotate-key")
@click.argument("tenant_name", metavar="TENANT")
def stream_rotate_key(tenant_name: str) -> None:
    """Sign TENANT's SETs with a new key; the old one stays published until retired."""
    from scimhub.timestamps import utc_now

    store, streams = _streams(Settings.from_env())

    async def rotate() -> SigningKey:
        return await streams.rotate_key((await tenant_ops.require_tenant(store, tenant_name)).id, utc_now())

    made = run(rotate())
    click.echo(f"New active key {made.kid}; the previous key stays published until `scimhub stream retire-key`.")


@stream.command("retire-key")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("kid")
def stream_retire_key(tenant_name: str, kid: str) -> None:
    """Stop publishing KID, a rotated-out key of TENANT: SETs it signed no longer verify."""
    store, streams = _streams(Settings.from_env())

    async def retire() -> bool:
        return await streams.retire_key((await tenant_ops.require_tenant(store, tenant_name)).id, kid)

    if not run(retire()):
        raise click.ClickException(
            f"No rotated-out key {kid} in tenant {tenant_name} (the active key is never retired)."
        )
    click.echo(f"Retired key {kid}: it is no longer published.")
