"""Shared data of the extension tests: a tenant extension schema as an operator writes it."""

from __future__ import annotations

import copy
from typing import Any

from scimhub.protocol.tenant_schemas import add_schema
from scimhub.schema.declare import DeclaredSchema
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore

ACME = "urn:ietf:params:scim:schemas:extension:acme:2.0:User"
ACME_GROUP = "urn:ietf:params:scim:schemas:extension:acme:2.0:Group"
# Entra's form: urn:ietf:params:scim:schemas:extension:<CustomExtensionName>:2.0:User
ENTRA_EXT = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
OKTA_EXT = "urn:okta:acme:1.0:profile:custom"

_ACME_SCHEMA: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
    "id": ACME,
    "name": "AcmeUser",
    "description": "Acme's custom user attributes",
    "attributes": [
        {"name": "costCenter", "type": "string", "description": "Finance cost center"},
        {"name": "badge", "type": "integer"},
        {"name": "contractor", "type": "boolean"},
        {"name": "hireDate", "type": "dateTime"},
        {"name": "employeeId", "type": "string", "mutability": "immutable"},
        {"name": "tier", "type": "string", "caseExact": True, "canonicalValues": ["Gold", "Silver"]},
        {"name": "internalNote", "type": "string", "returned": "request"},
        {"name": "tags", "type": "string", "multiValued": True},
        {
            "name": "badges",
            "type": "complex",
            "multiValued": True,
            "subAttributes": [
                {"name": "value", "type": "string"},
                {"name": "type", "type": "string", "canonicalValues": ["door", "parking"]},
            ],
        },
    ],
}


def acme_schema() -> dict[str, Any]:
    """A fresh copy (tests edit it)."""
    return copy.deepcopy(_ACME_SCHEMA)


def simple_schema(urn: str, *names: str) -> dict[str, Any]:
    return {"id": urn, "attributes": [{"name": n, "type": "string"} for n in names]}


async def declare(
    store: SqlStore, tenant_id: str, data: dict[str, Any] | None = None, resource_type: str = "User", **kw: Any
) -> DeclaredSchema:
    schema, _ = await add_schema(TenantSchemaStore(store.db), tenant_id, data or acme_schema(), resource_type, **kw)
    return schema
