"""``scimhub tenant setup-link``: the signed, expiring, revocable URL of a tenant's IdP setup page.

Registered on the ``tenant`` group by admin/cli.py.
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING

import click

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.protocol.setup_links import DEFAULT_DAYS
from scimhub.protocol.setup_links import MAX_DAYS
from scimhub.protocol.setup_links import MAX_TOKENS_PER_LINK
from scimhub.protocol.setup_links import SetupLinks
from scimhub.protocol.setup_links import link_state
from scimhub.settings import Settings
from scimhub.timestamps import format_instant

if TYPE_CHECKING:
    from scimhub.store.setup_links_sql import SetupLink

SETUP_PATH = "/setup/"


@click.command("setup-link")
@click.argument("tenant_name", metavar="TENANT")
@click.option(
    "--expires-in",
    type=click.IntRange(1, MAX_DAYS),
    default=DEFAULT_DAYS,
    show_default=True,
    metavar="DAYS",
    help="The link stops working after DAYS days.",
)
@click.option("--list", "listing", is_flag=True, help="List TENANT's setup links instead of making one.")
@click.option("--revoke", "revoke_id", metavar="LINK_ID", help="Revoke the setup link LINK_ID of TENANT.")
def tenant_setup_link(tenant_name: str, expires_in: int, listing: bool, revoke_id: str | None) -> None:
    """Make a setup link for TENANT: a URL that walks the customer's IT admin through connecting
    their identity provider (it needs no other credential, so send it as you would a password).
    The URL is printed once, on the last line; SCIMHUB_PUBLIC_URL sets its host."""
    settings = Settings.from_env()
    links = SetupLinks(open_store(settings))
    if listing and revoke_id:
        raise click.UsageError("Use --list or --revoke, not both.")
    if listing:
        _list(links, tenant_name)
        return
    if revoke_id:
        run(_revoke(links, tenant_name, revoke_id))
        click.echo(f"Revoked setup link {revoke_id}: its page now answers 410 Gone.")
        return

    async def create() -> tuple[SetupLink, str]:
        tenant = await tenant_ops.require_tenant(links.store, tenant_name)
        return await links.create(tenant, expires_in, now=datetime.now(UTC))

    link, token = run(create())
    click.echo(
        f"Setup link {link.id} for tenant {tenant_name}, expires {link.expires_at}; it can generate "
        f"up to {MAX_TOKENS_PER_LINK} SCIM tokens. Revoke it with: "
        f"{tenant_ops.command('tenant', 'setup-link', tenant_name, '--revoke', link.id)}. It is shown only now:"
    )
    click.echo(f"{settings.public_root}{SETUP_PATH}{token}")


async def _revoke(links: SetupLinks, tenant_name: str, link_id: str) -> None:
    tenant = await tenant_ops.require_tenant(links.store, tenant_name)
    await links.revoke(tenant, link_id, format_instant(datetime.now(UTC)))


def _list(links: SetupLinks, tenant_name: str) -> None:
    async def rows() -> list[SetupLink]:
        return await links.list(await tenant_ops.require_tenant(links.store, tenant_name))

    now = format_instant(datetime.now(UTC))
    click.echo("id\tstate\tcreated\texpires\tlast_used\ttokens_issued")
    for link in run(rows()):
        state = link_state(link, now).value
        fields = (link.id, state, link.created_at, link.expires_at, link.last_used_at or "-", str(link.tokens_issued))
        click.echo("\t".join(fields))


def register(group: click.Group) -> None:
    group.add_command(tenant_setup_link)
