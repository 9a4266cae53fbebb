"""Extension schemas declared per tenant (``tenant_schemas``): read by the tenant config cache,
written by ``scimhub schema`` and the admin API."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from scimhub.schema.declare import DeclaredSchema
from scimhub.store.database import Database
from scimhub.store.tables import tenant_schemas


class TenantSchemaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def declared(self, tenant_id: str) -> list[DeclaredSchema]:
        """The tenant's declarations, in URN order (the order discovery lists them)."""
        async with self.db.read() as tx:
            rows = await tx.execute(
                select(tenant_schemas).where(tenant_schemas.c.tenant_id == tenant_id).order_by(tenant_schemas.c.urn_key)
            )
            return [_declared(row) for row in rows]

    async def save(self, tenant_id: str, schema: DeclaredSchema, when: str) -> None:
        """Declare ``schema``, replacing the declaration of the same URN (any spelling)."""
        async with self.db.write() as tx:
            await tx.execute(_delete(tenant_id, schema.urn))
            await tx.execute(
                insert(tenant_schemas).values(
                    tenant_id=tenant_id,
                    urn_key=schema.urn.casefold(),
                    urn=schema.urn,
                    resource_type=schema.resource_type,
                    document=orjson.dumps(schema.document).decode(),
                    required=schema.required,
                    indexed=orjson.dumps(list(schema.indexed)).decode(),
                    updated_at=when,
                )
            )

    async def remove(self, tenant_id: str, urn: str) -> bool:
        """Forget a declaration (stored resource data is not touched); False if there was none."""
        async with self.db.write() as tx:
            result = await tx.execute(_delete(tenant_id, urn))
            return bool(result.rowcount)


def _delete(tenant_id: str, urn: str) -> Any:
    return delete(tenant_schemas).where(
        tenant_schemas.c.tenant_id == tenant_id, tenant_schemas.c.urn_key == urn.casefold()
    )


def _declared(row: Any) -> DeclaredSchema:
    return DeclaredSchema(
        urn=row.urn,
        resource_type=row.resource_type,
        document=orjson.loads(row.document),
        required=bool(row.required),
        indexed=tuple(orjson.loads(row.indexed)),
    )
