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
from scimhub.schema.learn import LearnedSchema
from scimhub.schema.learn import adopt_document
from scimhub.schema.learn import learn
from scimhub.schema.model import JsonDoc
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import tenant_registry
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.timestamps import utc_now

LEARN_LIMIT = 100_000  # resources of each type read by `schema learned` / `adopt` (newest first)


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
    # Values stored while the URN was undeclared (or under the old declaration) get the comparison
    # keys of the declared types, so filters find them.
    registry = tenant_registry(await schemas.declared(tenant_id))
    await schemas.rekey(tenant_id, registry.resource_type(resource_type), registry.common, schema.urn)
    return schema, current is not None


async def learned_schemas(schemas: TenantSchemaStore, tenant_id: str, limit: int = LEARN_LIMIT) -> list[LearnedSchema]:
    """Undeclared extension URNs in the tenant's latest ``limit`` resources of each type."""
    registry = tenant_registry(await schemas.declared(tenant_id))
    found = []
    for rtype in registry.resource_types.values():
        found += learn(await schemas.documents(tenant_id, rtype.id, limit), rtype)
    return found


async def adopt_schema(
    schemas: TenantSchemaStore,
    tenant_id: str,
    urn: str,
    resource_type: str | None = None,
    *,
    limit: int = LEARN_LIMIT,
    declare: bool = True,
) -> tuple[JsonDoc, str]:
    """The schema document of what the IdP sent under ``urn``, declared unless ``declare`` is False;
    returns it with the resource type it extends."""
    seen = [s for s in await learned_schemas(schemas, tenant_id, limit) if s.urn.casefold() == urn.casefold()]
    if resource_type is not None:
        seen = [s for s in seen if s.resource_type == resource_type]
    if not seen:
        raise LookupError(f"No undeclared data under {urn} was seen in this tenant's latest {limit} resources.")
    if len(seen) > 1:
        raise SchemaDocumentError(f"{urn} was sent for both Users and Groups: say which (--resource-type).")
    try:
        data = adopt_document(seen[0])
    except ValueError as exc:
        raise SchemaDocumentError(str(exc)) from None
    if declare:
        declared, _ = await add_schema(schemas, tenant_id, data, seen[0].resource_type)
        return declared.document, declared.resource_type
    reserved = [*default_registry().builtin_urns(), *(d.urn for d in await schemas.declared(tenant_id))]
    return declare_schema(data, reserved), seen[0].resource_type


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
