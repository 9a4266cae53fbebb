"""A User's ``groups`` on every read path. Rows read with their pk (pages, cursor pages, key
equalities, GET by id) find their memberships by pk through the memberships index; other reads
go by tenant and id. Both give what GET by id shows."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from scimhub.store import fast_reads as fast
from scimhub.store import pg_reads
from scimhub.store.database import SqliteDatabase
from scimhub.store.sql import SqlStore
from tests.conftest import sql_of
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import group_body

pytestmark = pytest.mark.anyio


def groups(resource: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(g["value"], g.get("display")) for g in resource.get("groups", [])]


async def directory(client: httpx2.AsyncClient) -> tuple[list[dict[str, Any]], dict[str, list[tuple[str, str]]]]:
    """Five users; the first three in some of three groups (one of them in all three)."""
    users = [await create_user(client, f"user{i}@example.com") for i in range(5)]
    expected: dict[str, list[tuple[str, str]]] = {u["id"]: [] for u in users}
    for name, members in (("Zeta", users[:3]), ("Alpha", users[:1]), ("Mid", [users[0], users[2]])):
        response = await client.post("/Groups", json=group_body(name, [m["id"] for m in members]))
        assert response.status_code == 201
        for member in members:
            expected[member["id"]].append((response.json()["id"], name))
    return users, expected


async def test_every_read_path_shows_the_groups_get_by_id_shows(client: httpx2.AsyncClient) -> None:
    users, expected = await directory(client)
    for user in users:  # groups in the order they were created, as GET by id lists them
        assert groups(await get_ok(client, f"/Users/{user['id']}")) == expected[user["id"]]
    reads = [
        {"count": 100},  # a plain page
        {"startIndex": 2, "count": 2},
        {"cursor": "", "count": 3},
        {"filter": 'userName eq "user0@example.com"'},  # a key equality
        {"filter": 'userName sw "user"'},  # the general path (rows without their pk)
        {"filter": 'userName sw "user"', "sortBy": "userName", "sortOrder": "descending"},
    ]
    for params in reads:
        body = await get_ok(client, "/Users", params=params)
        assert body["Resources"], params
        for resource in body["Resources"]:
            assert groups(resource) == expected[resource["id"]], params


async def test_pages_read_memberships_by_pk(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    await directory(client)
    hot_statements.clear()
    await get_ok(client, "/Users", params={"count": 100})
    await get_ok(client, "/Users", params={"cursor": "", "count": 100})
    if store.db.name == "postgresql":  # pg_reads: each page brings its users' groups in its one statement
        assert hot_statements == [
            pg_reads.COUNTED_PAGE["offset", True].pg_sql,
            pg_reads.COUNTED_PAGE["after", True].pg_sql,
        ]
        return
    assert hot_statements.count(sql_of(store, fast.GROUPS_OF_PKS)) == 2
    assert sql_of(store, fast.GROUPS_OF_MANY) not in hot_statements


async def test_a_page_of_members_finds_their_memberships_through_the_index(store: SqlStore) -> None:
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    with store.db.engine.connect() as conn:
        plan = [
            row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {fast.GROUPS_OF_PKS.sql}", ("[1, 2, 3]",)).all()
        ]
    assert not any(line.startswith("SCAN group_members") or line.startswith("SCAN g") for line in plan), plan
    assert any("group_members USING" in line and "member_pk=?" in line for line in plan), plan
