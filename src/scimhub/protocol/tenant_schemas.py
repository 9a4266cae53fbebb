"""Declaring, listing and removing a tenant's extension schemas (CLI and admin API share these).

A change reaches every server instance within the tenant config cache's 10 seconds. Removing a
declaration never touches stored resources: their extension data stays in the documents.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from scimhub.errors import NotFound
from scimhub.patch.model import PATCH_OP_SCHEMA
from scimhub.policy import Policy
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.schema.declare import RESOURCE_TYPES
from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.declare import SchemaDocumentError
from scimhub.schema.declare import check_redeclaration
from scimhub.schema.declare import declare_schema
from scimhub.schema.learn import LEARN_LIMIT
from scimhub.schema.learn import LearnedSchema
from scimhub.schema.learn import adopt_document
from scimhub.schema.learn import learn
from scimhub.schema.model import JsonDoc
from scimhub.schema.project import DEFAULT_PROJECTION
from scimhub.schema.registry import default_registry
from scimhub.schema.registry import tenant_registry
from scimhub.store.base import Store
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
    kept = (current.indexed, current.ready) if current else ((), ())
    schema = DeclaredSchema(document["id"], resource_type, document, required, *kept)
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


async def remove_schema(
    schemas: TenantSchemaStore, tenant_id: str, urn: str, settle: Settle | None = None
) -> DeclaredSchema:
    """Forget a declaration; stored values stay in the resources (and are returned as sent). Its
    value indexes go too: filters stop using them first (``settle``), then their rows are deleted."""
    found = await find_schema(schemas, tenant_id, urn)
    if found.ready:
        await schemas.save(tenant_id, replace(found, ready=()), utc_now())
        await (settle or settle_config_caches)()
    await schemas.remove(tenant_id, found.urn)
    for name in found.indexed:
        await schemas.drop_index_rows(tenant_id, found.urn, name)
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


Settle = Callable[[], Awaitable[None]]


def settle_for(config_seconds: float) -> Settle:
    """Waiting until every server has reread the tenant's declarations: their config cache's time,
    plus a second; nothing when they do not cache them."""

    async def settle() -> None:
        if config_seconds > 0:
            await asyncio.sleep(config_seconds + 1)

    return settle


settle_config_caches = settle_for(CACHE_SECONDS)


async def add_index(
    schemas: TenantSchemaStore, tenant_id: str, urn: str, name: str, settle: Settle = settle_config_caches
) -> tuple[DeclaredSchema, int]:
    """Index a string attribute of a declared extension for equality filters. Writers maintain the
    index once they see it (``settle``); then the existing values are indexed and filters start
    using it. Returns the declaration and how many resources hold a value."""
    current = await find_schema(schemas, tenant_id, urn)
    attr = next((a for a in current.document["attributes"] if a["name"].casefold() == name.casefold()), None)
    if attr is None:
        raise SchemaDocumentError(f"{current.urn} declares no attribute {name!r}.")
    if attr["type"] not in ("string", "reference", "binary"):
        raise SchemaDocumentError(
            f"'{current.urn}:{attr['name']}' is of type {attr['type']}; only string attributes can be indexed."
        )
    building = replace(current, indexed=tuple(dict.fromkeys((*current.indexed, attr["name"]))))
    await schemas.save(tenant_id, building, utc_now())
    await settle()
    registry = tenant_registry(await schemas.declared(tenant_id))
    count = await schemas.rebuild_index(
        tenant_id, registry.resource_type(current.resource_type), current.urn, attr["name"]
    )
    ready = replace(building, ready=tuple(dict.fromkeys((*building.ready, attr["name"]))))
    await schemas.save(tenant_id, ready, utc_now())
    return ready, count


async def drop_index(
    schemas: TenantSchemaStore, tenant_id: str, urn: str, name: str, settle: Settle = settle_config_caches
) -> DeclaredSchema:
    """Stop indexing an attribute: filters stop using the index first (``settle``), then writers
    stop maintaining it and its rows are deleted. The attribute's values are not touched."""
    current = await find_schema(schemas, tenant_id, urn)
    found = next((n for n in current.indexed if n.casefold() == name.casefold()), None)
    if found is None:
        raise LookupError(f"'{current.urn}:{name}' is not indexed (indexed: {', '.join(current.indexed) or 'none'}).")
    unused = replace(current, ready=tuple(n for n in current.ready if n != found))
    await schemas.save(tenant_id, unused, utc_now())
    await settle()
    dropped = replace(unused, indexed=tuple(n for n in current.indexed if n != found))
    await schemas.save(tenant_id, dropped, utc_now())
    await schemas.drop_index_rows(tenant_id, current.urn, found)
    return dropped


PURGE_PATH = "scimhub schema purge"  # the audit entries' path


async def purge_undeclared(store: Store, schemas: TenantSchemaStore, tenant_id: str, urn: str) -> int:
    """Delete the stored data under an undeclared URN (a removed declaration's values, or what an
    IdP sent unasked) from every resource of the tenant: one PATCH remove each, so versions move and
    ``user.updated`` / ``group.updated`` events and audit entries say what went. Returns the count."""
    registry = tenant_registry(await schemas.declared(tenant_id))
    declared = next((d for d in registry.declared if d.urn.casefold() == urn.casefold()), None)
    if declared is not None:
        raise SchemaDocumentError(f"{declared.urn} is declared: remove the declaration first (scimhub schema remove).")
    service = ResourceService(store, registry)
    ctx = RequestContext(Principal(tenant_id, "cli"), "", Policy(), method="PATCH", path=PURGE_PATH, registry=registry)
    body = {"schemas": [PATCH_OP_SCHEMA], "Operations": [{"op": "remove", "path": urn}]}
    purged = 0
    for rtype in registry.resource_types.values():
        for id in await schemas.ids_holding(tenant_id, rtype.id, urn):
            with contextlib.suppress(NotFound):  # deleted meanwhile
                await service.patch(ctx, rtype, id, body, DEFAULT_PROJECTION)
                purged += 1
    return purged
