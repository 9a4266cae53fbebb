"""Each tenant's attribute mapping rows (``attribute_mappings``): written by ``scimhub attribute``
and the admin API, read by the directory API and the events' ``user``."""

from __future__ import annotations

from sqlalchemy import Delete
from sqlalchemy import delete
from sqlalchemy import insert
from sqlalchemy import select

from scimhub.store.database import Database
from scimhub.store.tables import attribute_mappings


class AttributeStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def rows(self, tenant_id: str) -> dict[str, str | None]:
        """The tenant's names and their paths (None: a default name the tenant removed)."""
        async with self.db.read() as tx:
            found = await tx.execute(
                select(attribute_mappings.c.name, attribute_mappings.c.path).where(
                    attribute_mappings.c.tenant_id == tenant_id
                )
            )
            return {row.name: row.path for row in found}

    async def save(self, tenant_id: str, name: str, path: str | None, when: str) -> None:
        """Map ``name`` (any spelling of it replaced) to ``path``, or record its removal (None)."""
        async with self.db.write() as tx:
            await tx.execute(_delete(tenant_id, name))
            await tx.execute(
                insert(attribute_mappings).values(
                    tenant_id=tenant_id, name_key=name.casefold(), name=name, path=path, updated_at=when
                )
            )

    async def remove(self, tenant_id: str, name: str) -> bool:
        async with self.db.write() as tx:
            return bool((await tx.execute(_delete(tenant_id, name))).rowcount)


def _delete(tenant_id: str, name: str) -> Delete:
    return delete(attribute_mappings).where(
        attribute_mappings.c.tenant_id == tenant_id, attribute_mappings.c.name_key == name.casefold()
    )
