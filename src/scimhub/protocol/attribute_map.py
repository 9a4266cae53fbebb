"""Mapping, listing and unmapping a tenant's directory attributes (CLI and admin API share these).

A path is checked against the tenant's registry (built-in schemas plus its declared extensions)
when it is mapped, and stored in its canonical spelling. The directory API reads the mapping on
every request; events' ``user`` reads it through a 10-second cache (``store.directory_sql``).
"""

from __future__ import annotations

from collections.abc import Callable

from scimhub.directory.attributes import AttributeMap
from scimhub.directory.attributes import Mapped
from scimhub.directory.attributes import MappingError
from scimhub.directory.attributes import Source
from scimhub.directory.attributes import check_name
from scimhub.directory.attributes import check_path
from scimhub.directory.attributes import effective_mapping
from scimhub.schema.registry import SchemaRegistry
from scimhub.schema.registry import tenant_registry
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.timestamps import utc_now


class NotMapped(LookupError):
    """``unmap`` of a name the tenant's directory user does not have."""


async def registry_of(schemas: TenantSchemaStore, tenant_id: str) -> SchemaRegistry:
    return tenant_registry(await schemas.declared(tenant_id))


async def tenant_mapping(attributes: AttributeStore, schemas: TenantSchemaStore, tenant_id: str) -> AttributeMap:
    """The tenant's effective mapping, read now."""
    return effective_mapping(await registry_of(schemas, tenant_id), await attributes.rows(tenant_id))


async def map_attribute(
    attributes: AttributeStore,
    schemas: TenantSchemaStore,
    tenant_id: str,
    name: str,
    path: str,
    clock: Callable[[], str] = utc_now,
) -> Mapped:
    """Map ``name`` to ``path`` (replacing what it read before); MappingError, nothing changed,
    for a reserved or malformed name or a path the tenant's User does not have."""
    check_name(name)
    registry = await registry_of(schemas, tenant_id)
    bound = check_path(registry, path)
    await attributes.save(tenant_id, name, bound.key, clock())
    return Mapped(name, bound.key, Source.TENANT, bound)


async def unmap_attribute(
    attributes: AttributeStore,
    schemas: TenantSchemaStore,
    tenant_id: str,
    name: str,
    clock: Callable[[], str] = utc_now,
) -> Mapped:
    """Remove ``name`` from the tenant's directory user (a default or extension name stays removed
    until mapped again); returns what it read. MappingError for a core field, NotMapped when absent."""
    check_name(name)
    current = await tenant_mapping(attributes, schemas, tenant_id)
    found = next((m for m in current.entries if m.name.casefold() == name.casefold()), None)
    if found is None:
        raise NotMapped(f"{name!r} is not mapped in this tenant (see `scimhub attribute list`).")
    rows = await attributes.rows(tenant_id)
    defaults = effective_mapping(await registry_of(schemas, tenant_id), {})
    if any(m.name.casefold() == name.casefold() for m in defaults.entries):
        await attributes.save(tenant_id, found.name, None, clock())
    elif any(n.casefold() == name.casefold() for n in rows):
        await attributes.remove(tenant_id, name)
    return found


__all__ = ["MappingError", "NotMapped", "map_attribute", "tenant_mapping", "unmap_attribute"]
