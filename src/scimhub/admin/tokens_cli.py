"""``scimhub token``: bearer tokens for the SCIM API (issue, list, revoke, rotate)."""

from __future__ import annotations

import click

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings


@click.group()
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
    store = open_store(settings)

    async def issue() -> tuple[str, str, str | None]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        record, secret = await tenant_ops.issue_token(store, found, settings.token_pepper, expires_in)
        return record.id, secret, record.expires_at

    token_id, secret, expires_at = run(issue())
    click.echo(
        f"Token id {token_id} for tenant {tenant_name}"
        f"{f', expires {expires_at}' if expires_at else ''}. It is shown only now:"
    )
    click.echo(secret)


@token.command("list")
@click.argument("tenant_name", metavar="TENANT")
def token_list(tenant_name: str) -> None:
    """List TENANT's tokens: id, prefix, created, last used, expiry, revoked."""
    store = open_store(Settings.from_env())

    async def records() -> list[tuple[str, ...]]:
        found = await tenant_ops.require_tenant(store, tenant_name)
        return [
            (r.id, r.prefix, r.created_at, r.last_used_at or "-", r.expires_at or "-", r.revoked_at or "-")
            for r in await store.list_tokens(found.id)
        ]

    click.echo("id\tprefix\tcreated\tlast_used\texpires\trevoked")
    for row in run(records()):
        click.echo("\t".join(row))


@token.command("revoke")
@click.argument("token_id")
def token_revoke(token_id: str) -> None:
    """Revoke TOKEN_ID; running servers refuse it within SCIMHUB_TOKEN_RECHECK_SECONDS (default 1 s)."""
    run(tenant_ops.revoke_token(open_store(Settings.from_env()), token_id))
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
    record, secret = run(tenant_ops.rotate_token(open_store(settings), token_id, overlap_hours, settings.token_pepper))
    click.echo(
        f"New token id {record.id}; token {token_id} stops working in {overlap_hours:g} h. It is shown only now:"
    )
    click.echo(secret)
