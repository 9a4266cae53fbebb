"""Helpers of the directory tests: roles granted as the roles feature stores them, admin reads."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import insert
from sqlalchemy import select

from scimhub.store.sql import SqlStore
from scimhub.store.tables import attribute_mappings
from scimhub.store.tables import resources
from scimhub.store.tables import user_roles
from tests.events.support import admin_client


async def grant(store: SqlStore, tenant_id: str, user_id: str, *roles: str) -> None:
    """Give a user roles as ``user_roles`` holds them (what scimhub.directory.roles decides)."""
    async with store.db.write() as tx:
        pk = (await tx.execute(select(resources.c.pk).where(resources.c.id == user_id))).scalar_one()
        for role in roles:
            await tx.execute(insert(user_roles).values(tenant_id=tenant_id, user_pk=pk, role=role))


async def mapping_rows(store: SqlStore) -> list[tuple[Any, ...]]:
    """Every stored mapping row (a refusal must leave them as they were)."""
    async with store.db.read() as tx:
        rows = await tx.execute(select(attribute_mappings).order_by(attribute_mappings.c.name_key))
        return [tuple(row) for row in rows]


async def admin_get(app: object, path: str, **params: Any) -> httpx2.Response:
    async with admin_client(app) as admin:
        return await admin.get(path, params=params)


async def admin_ok(app: object, path: str, **params: Any) -> Any:
    response = await admin_get(app, path, **params)
    assert response.status_code == 200, response.text
    return response.json()
