"""Extension schemas declared per tenant (``tenant_schemas``): read by the tenant config cache,
written by ``scimhub schema`` and the admin API."""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

import orjson
from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select
from sqlalchemy import update

from scimhub.schema.declare import DeclaredSchema
from scimhub.schema.model import JsonDoc
from scimhub.schema.model import ResourceType
from scimhub.schema.model import Schema
from scimhub.schema.undeclared import existing_key
from scimhub.store.database import Database
from scimhub.store.index_plan import comparison_document
from scimhub.store.index_plan import extension_index_path
from scimhub.store.index_plan import extension_keys
from scimhub.store.prepared import prepare
from scimhub.store.tables import resource_values
from scimhub.store.tables import resources
from scimhub.store.tables import tenant_schemas

_BATCH = 500


class _Declared(NamedTuple):
    urn: str
    resource_type: str
    document: str
    required: bool
    indexed: str


# Read on every tenant-config refresh (each tenant's every 10 s): one prepared statement.
_DECLARED = prepare(
    select(*(tenant_schemas.c[name] for name in _Declared._fields))
    .where(tenant_schemas.c.tenant_id == bindparam("tenant_id"))
    .order_by(tenant_schemas.c.urn_key)
)


class TenantSchemaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def declared(self, tenant_id: str) -> list[DeclaredSchema]:
        """The tenant's declarations, in URN order (the order discovery lists them)."""
        return [_declared(_Declared(*row)) for row in await self.db.fast(_DECLARED, tenant_id=tenant_id)]

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
                    # {attribute: "ready" | "building"}: filters use only complete indexes
                    indexed=orjson.dumps(
                        {n: "ready" if n in schema.ready else "building" for n in schema.indexed}
                    ).decode(),
                    updated_at=when,
                )
            )

    async def remove(self, tenant_id: str, urn: str) -> bool:
        """Forget a declaration (stored resource data is not touched); False if there was none."""
        async with self.db.write() as tx:
            result = await tx.execute(_delete(tenant_id, urn))
            return bool(result.rowcount)

    async def documents(self, tenant_id: str, resource_type: str, limit: int) -> list[JsonDoc]:
        """The ``limit`` most recently created documents of a type (what ``schema learned`` reads)."""
        async with self.db.read() as tx:
            rows = await tx.execute(
                select(resources.c.doc)
                .where(resources.c.tenant_id == tenant_id, resources.c.resource_type == resource_type)
                .order_by(resources.c.pk.desc())
                .limit(limit)
            )
            return [orjson.loads(row.doc) for row in rows]

    async def ids_holding(self, tenant_id: str, resource_type: str, urn: str) -> list[str]:
        """The ids of the resources of a type whose document holds data under ``urn``."""
        found: list[str] = []
        last = 0
        while True:
            async with self.db.read() as tx:
                rows = (
                    await tx.execute(
                        select(resources.c.pk, resources.c.id, resources.c.doc)
                        .where(
                            resources.c.tenant_id == tenant_id,
                            resources.c.resource_type == resource_type,
                            resources.c.pk > last,
                        )
                        .order_by(resources.c.pk)
                        .limit(_BATCH)
                    )
                ).all()
            found += [row.id for row in rows if existing_key(orjson.loads(row.doc), urn) is not None]
            if len(rows) < _BATCH:
                return found
            last = rows[-1].pk

    async def rekey(self, tenant_id: str, rtype: ResourceType, common: Schema, urn: str) -> int:
        """Make the stored ``urn`` data of the resources of ``rtype`` match its declaration: the
        container under the declared spelling (URNs are case-insensitive; filters read that
        spelling) and, on PostgreSQL, comparison keys (doc_keys) of the declared types. Batch by
        batch, each row under its write lock. Returns how many rows were rewritten."""
        last, done = 0, 0
        while True:
            async with self.db.write() as tx:
                rows = (await tx.execute(_batch(tenant_id, rtype.id, last))).all()
                for pk, text in rows:
                    values = _declared_form(orjson.loads(text), urn, rtype, common, self.db.keeps_doc_keys)
                    if values:
                        await tx.execute(update(resources).where(resources.c.pk == pk).values(**values))
                        done += 1
            if len(rows) < _BATCH:
                return done
            last = rows[-1].pk

    async def rebuild_index(self, tenant_id: str, rtype: ResourceType, urn: str, name: str) -> int:
        """Write the value-index rows of one extension attribute for every resource of the type,
        batch by batch, each resource under its write lock (writers maintain them meanwhile).
        Returns how many resources hold a value."""
        path = extension_index_path(urn, name)
        last, indexed = 0, 0
        while True:
            async with self.db.write() as tx:
                rows = (await tx.execute(_batch(tenant_id, rtype.id, last))).all()
                await tx.execute(
                    delete(resource_values).where(
                        resource_values.c.path == path, resource_values.c.resource_pk.in_([r.pk for r in rows])
                    )
                )
                values = [
                    {"resource_pk": pk, "tenant_id": tenant_id, "path": path, "value_key": key}
                    for pk, text in rows
                    for key in dict.fromkeys(extension_keys(orjson.loads(text), rtype, urn, name))
                ]
                if values:
                    await tx.execute(insert(resource_values), values)
                indexed += len({v["resource_pk"] for v in values})
            if len(rows) < _BATCH:
                return indexed
            last = rows[-1].pk

    async def drop_index_rows(self, tenant_id: str, urn: str, name: str) -> None:
        async with self.db.write() as tx:
            await tx.execute(
                delete(resource_values).where(
                    resource_values.c.tenant_id == tenant_id, resource_values.c.path == extension_index_path(urn, name)
                )
            )


def _declared_form(doc: JsonDoc, urn: str, rtype: ResourceType, common: Schema, keyed: bool) -> dict[str, Any]:
    """The columns to rewrite so that ``doc``'s ``urn`` data reads as declared (none: no such data,
    or already so on SQLite, which compares the document itself)."""
    stored = existing_key(doc, urn)
    if stored is None:
        return {}
    values: dict[str, Any] = {}
    if stored != urn:
        doc = {(urn if k == stored else k): v for k, v in doc.items()}
        listed = doc.get("schemas", [])
        doc["schemas"] = [urn if isinstance(s, str) and s.casefold() == urn.casefold() else s for s in listed]
        values["doc"] = orjson.dumps(doc).decode()
    if keyed:
        values["doc_keys"] = comparison_document(doc, rtype, common)  # the JSONB type serialises it
    return values


def _batch(tenant_id: str, resource_type: str, after: int) -> Any:
    """The next resources of a type after pk ``after``, locked for update (PostgreSQL)."""
    return (
        select(resources.c.pk, resources.c.doc)
        .where(resources.c.tenant_id == tenant_id, resources.c.resource_type == resource_type, resources.c.pk > after)
        .order_by(resources.c.pk)
        .limit(_BATCH)
        .with_for_update()
    )


def _delete(tenant_id: str, urn: str) -> Any:
    return delete(tenant_schemas).where(
        tenant_schemas.c.tenant_id == tenant_id, tenant_schemas.c.urn_key == urn.casefold()
    )


def _declared(row: Any) -> DeclaredSchema:
    indexes: dict[str, str] = orjson.loads(row.indexed)
    return DeclaredSchema(
        urn=row.urn,
        resource_type=row.resource_type,
        document=orjson.loads(row.document),
        required=bool(row.required),
        indexed=tuple(indexes),
        ready=tuple(n for n, state in indexes.items() if state == "ready"),
    )
