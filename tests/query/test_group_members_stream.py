"""The streamed group read (``Store.group_members``, issue 21): the group's memberships walked in
member order through the (group_pk, member_pk) index, each member by its primary key, a chunk at a
time; confined to the tenant; and ``members.value`` filters still index probes."""

from __future__ import annotations

import httpx2
import pytest

from scimhub.store.database import SqliteDatabase
from scimhub.store.members_sql import MEMBERS_OF_GROUP
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio


def _plan(store: SqlStore, sql: str, params: tuple[object, ...]) -> list[str]:
    assert isinstance(store.db, SqliteDatabase)
    with store.db.engine.connect() as conn:
        return [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()]


async def test_the_members_walk_is_an_index_range_in_member_order(store: SqlStore) -> None:
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    plan = _plan(store, MEMBERS_OF_GROUP.sql, (1,))
    assert any(line.startswith("SEARCH group_members USING") and "(group_pk=?)" in line for line in plan), plan
    assert any(line.startswith("SEARCH m USING INTEGER PRIMARY KEY") for line in plan), plan
    assert not any("TEMP B-TREE" in line or line.startswith("SCAN") for line in plan), plan


async def test_members_come_a_chunk_at_a_time_in_member_order(acme: TenantAccess, store: SqlStore) -> None:
    ids = [(await create_user(acme.client, f"m{i}@example.com"))["id"] for i in range(7)]
    group = await create_group(acme.client, "seven", ids[::-1])

    async with store.group_members(acme.tenant_id, "Group", group["id"], 3) as found:
        assert found is not None
        assert found.group.id == group["id"] and found.group.version == 1
        chunks = [list(rows) async for rows in found.chunks]

    assert [len(c) for c in chunks] == [3, 3, 1]
    assert [tuple(r) for c in chunks for r in c] == [(i, "User", f"m{n}@example.com") for n, i in enumerate(ids)]


async def test_another_tenants_or_an_unknown_group_is_none(
    acme: TenantAccess, globex: TenantAccess, store: SqlStore
) -> None:
    user = await create_user(acme.client, "a@example.com")
    group = await create_group(acme.client, "g", [user["id"]])

    async with store.group_members(globex.tenant_id, "Group", group["id"], 10) as other:
        assert other is None
    async with store.group_members(acme.tenant_id, "User", user["id"], 10) as wrong_type:
        assert wrong_type is not None  # a User read as such has no memberships rows as a group
        assert [rows async for rows in wrong_type.chunks] == []
    async with store.group_members(acme.tenant_id, "Group", user["id"], 10) as not_a_group:
        assert not_a_group is None


async def test_a_members_value_filter_with_members_requested_finds_the_group(client: httpx2.AsyncClient) -> None:
    """Entra's membership check: the filter is a probe of the memberships index (see
    tests/query/test_scan_classification.py); the group found carries its members."""
    ids = [(await create_user(client, f"u{i}@example.com"))["id"] for i in range(3)]
    group = await create_group(client, "g", ids)
    await create_group(client, "other", ids[:1])

    page = await get_ok(
        client,
        "/Groups",
        params={"filter": f'id eq "{group["id"]}" and members.value eq "{ids[2]}"', "attributes": "members"},
    )

    assert page["totalResults"] == 1
    assert sorted(m["value"] for m in page["Resources"][0]["members"]) == sorted(ids)
