"""The database counts changes to any token's validity (migration 0019's triggers on tokens), so
that a server polls one row instead of rereading every token it remembers. Every way a token stops
being valid moves the count, whoever makes it; a token's last use and a new token do not."""

from __future__ import annotations

from collections.abc import Awaitable
from collections.abc import Callable

import pytest
from sqlalchemy import delete
from sqlalchemy import update

from scimhub.protocol import tenants
from scimhub.store.sql import SqlStore
from scimhub.store.tables import tenants as tenant_rows
from scimhub.store.tables import tokens

pytestmark = pytest.mark.anyio


async def _count(store: SqlStore) -> int:
    count = await store.token_change_count()
    assert count is not None
    return count


async def _moves(store: SqlStore, change: Callable[[], Awaitable[object]]) -> bool:
    before = await _count(store)
    await change()
    return await _count(store) > before


async def _token(store: SqlStore, name: str = "acme") -> tuple[str, str]:
    tenant = await store.tenant_by_name(name) or await tenants.create_tenant(store, name)
    record, _ = await tenants.issue_token(store, tenant, None)
    return tenant.id, record.id


async def test_a_revocation_moves_the_count(store: SqlStore) -> None:
    _, token_id = await _token(store)
    assert await _moves(store, lambda: store.revoke_token(token_id, "2026-12-08T00:00:00+00:00"))


async def test_a_new_expiry_moves_the_count(store: SqlStore) -> None:
    _, token_id = await _token(store)
    assert await _moves(store, lambda: store.set_token_expiry(token_id, "2026-12-08T00:00:00+00:00"))


async def test_changes_made_with_plain_sql_move_the_count(store: SqlStore) -> None:
    """What another process or an operator's SQL session does: the triggers are in the database."""
    _, token_id = await _token(store)

    async def run(statement: object) -> None:
        async with store.db.write() as tx:
            await tx.execute(statement)  # type: ignore[arg-type]

    where = tokens.c.id == token_id
    assert await _moves(store, lambda: run(update(tokens).where(where).values(revoked_at="2026-12-08")))
    assert await _moves(store, lambda: run(update(tokens).where(where).values(expires_at="2026-12-08")))
    assert await _moves(store, lambda: run(update(tokens).where(where).values(digest="0" * 64)))
    assert await _moves(store, lambda: run(delete(tokens).where(where)))


async def test_a_tenants_deletion_moves_the_count(store: SqlStore) -> None:
    tenant_id, _ = await _token(store, "gone")

    async def delete_tenant_row() -> None:  # the tokens go by the foreign key's ON DELETE CASCADE
        async with store.db.write() as tx:
            await tx.execute(delete(tenant_rows).where(tenant_rows.c.id == tenant_id))

    assert await _moves(store, delete_tenant_row)


async def test_a_new_token_and_a_last_use_leave_the_count(store: SqlStore) -> None:
    before = await _count(store)
    _, token_id = await _token(store)
    await store.touch_tokens([(token_id, "2026-12-08T00:00:00+00:00")])
    await store.touch_token(token_id, "2026-12-08T00:01:00+00:00")
    assert await _count(store) == before
