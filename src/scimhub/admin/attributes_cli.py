"""``scimhub attribute``: a tenant's attribute mapping (the app's names → SCIM paths of a User).

The store and the protocol operations are imported inside the commands (admin/common.py says why).
"""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import TypeVar

import click

from scimhub.admin.common import open_store
from scimhub.admin.common import run
from scimhub.protocol import tenants as tenant_ops
from scimhub.settings import Settings

if TYPE_CHECKING:
    from scimhub.store.attributes_sql import AttributeStore
    from scimhub.store.schemas_sql import TenantSchemaStore

T = TypeVar("T")
_PICKUP = "Events use the change within 10 seconds; the directory API at once."


def _with_stores(tenant_name: str, step: Callable[[AttributeStore, TenantSchemaStore, str], Awaitable[T]]) -> T:
    from scimhub.directory.attributes import MappingError
    from scimhub.protocol.attribute_map import NotMapped
    from scimhub.store.attributes_sql import AttributeStore
    from scimhub.store.schemas_sql import TenantSchemaStore

    store = open_store(Settings.from_env())

    async def go() -> T:
        tenant = await tenant_ops.require_tenant(store, tenant_name)
        return await step(AttributeStore(store.db), TenantSchemaStore(store.db), tenant.id)

    try:
        return run(go())
    except (MappingError, NotMapped) as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def attribute() -> None:
    """The attribute mapping of each tenant's directory users (directory API and events)."""


@attribute.command("map")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("name")
@click.argument("path")
def attribute_map(tenant_name: str, name: str, path: str) -> None:
    """Map NAME to the User attribute PATH (e.g. costCenter urn:…:acme:2.0:User:costCenter)."""
    from scimhub.protocol import attribute_map as ops

    mapped = _with_stores(tenant_name, lambda a, s, t: ops.map_attribute(a, s, t, name, path))
    click.echo(f"Mapped {mapped.name} to {mapped.path} for tenant {tenant_name}. {_PICKUP}")


@attribute.command("unmap")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("name")
def attribute_unmap(tenant_name: str, name: str) -> None:
    """Remove NAME from the tenant's directory users (a default stays removed until mapped again)."""
    from scimhub.protocol import attribute_map as ops

    removed = _with_stores(tenant_name, lambda a, s, t: ops.unmap_attribute(a, s, t, name))
    click.echo(f"Unmapped {removed.name} (was {removed.path}) for tenant {tenant_name}. {_PICKUP}")


@attribute.command("list")
@click.argument("tenant_name", metavar="TENANT")
def attribute_list(tenant_name: str) -> None:
    """The tenant's effective mapping: name, path, source (core, default, extension, tenant)."""
    from scimhub.protocol import attribute_map as ops

    mapping = _with_stores(tenant_name, ops.tenant_mapping)
    click.echo("name\tpath\tsource")
    for entry in mapping.listing():
        note = "" if entry.bound is not None else " (unknown path: its schema is no longer declared)"
        click.echo(f"{entry.name}\t{entry.path}{note}\t{entry.source.value}")
