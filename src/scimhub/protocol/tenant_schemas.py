"""Declaring, listing and removing a tenant's extension schemas (CLI and admin API share these).

A change reaches every server instance within the tenant config cache's 10 seconds. Removing a
declaration never touches stored resources: their extension data stays in the documents.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scimhub.schema.declare import RESOURCE_TYPES
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.declare import SchemaDocumentError
from scimhub.schema.declare import check_redeclaration
from scimhub.schema.declare import declare_schema
from scimhub.schema.registry import default_registry
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.timestamps import utc_now


async def add_schema(
    schemas: TenantSchemaStore,
    tenant_id: str,
    data: Any,
    resource_type: str = "User",
    *,
    required: bool = False,
    clock: Callable[[], str] = utc_now,
) -> tuple[DeclaredSchema, bool]:
    """Declare (or re-declare) an extension of ``resource_type``; returns it and whether it
    replaced a declaration. ``SchemaDocumentError`` (nothing changed) when it cannot be taken."""
    if resource_type not in RESOURCE_TYPES:
        raise SchemaDocumentError(f"Resource type {resource_type!r} is not one of {', '.join(RESOURCE_TYPES)}.")
    declared = await schemas.declared(tenant_id)
    urn = data.get("id") if isinstance(data, dict) else None
    key = urn.casefold() if isinstance(urn, str) else None
    current = next((d for d in declared if d.urn.casefold() == key), None)
    reserved = [*default_registry().builtin_urns(), *(d.urn for d in declared if d is not current)]
    document = declare_schema(data, reserved)
    if current is not None:
        if current.resource_type != resource_type:
            raise SchemaDocumentError(
                f"Schema {current.urn} extends {current.resource_type}; "
                f"remove it before declaring it for {resource_type}."
            )
        check_redeclaration(current.document, document)
    schema = DeclaredSchema(document["id"], resource_type, document, required, current.indexed if current else ())
    await schemas.save(tenant_id, schema, clock())
    return schema, current is not None


async def find_schema(schemas: TenantSchemaStore, tenant_id: str, urn: str) -> DeclaredSchema:
    """The tenant's declaration of ``urn``; LookupError naming what is declared otherwise."""
    declared = await schemas.declared(tenant_id)
    found = next((d for d in declared if d.urn.casefold() == urn.casefold()), None)
    if found is None:
        known = ", ".join(d.urn for d in declared) or "none"
        raise LookupError(f"No extension schema {urn} is declared for this tenant (declared: {known}).")
    return found


async def remove_schema(schemas: TenantSchemaStore, tenant_id: str, urn: str) -> DeclaredSchema:
    """Forget a declaration; stored values stay in the resources (and are returned as sent)."""
    found = await find_schema(schemas, tenant_id, urn)
    await schemas.remove(tenant_id, found.urn)
    return found


def summary(schema: DeclaredSchema) -> dict[str, Any]:
    """One line of ``schema list`` / an item of the admin API's list."""
    return {
        "id": schema.urn,
        "resourceType": schema.resource_type,
        "required": schema.required,
        "attributes": [a["name"] for a in schema.document["attributes"]],
        "indexed": list(schema.indexed),
    }
