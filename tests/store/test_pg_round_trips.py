"""Hot reads and writes in fewer statements: PostgreSQL (store/pg_reads.py, store/pg_unit.py) and a
user with its groups on SQLite (store/fast_reads.py).

The answers are the plain path's, on both databases; on PostgreSQL the tests also check that each
read is one statement and that each step of a write is one statement."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from sqlalchemy import Connection
from sqlalchemy import text

from scimhub.store import fast_reads as fast
from scimhub.store import fast_writes as fw
from scimhub.store import pg_reads
from scimhub.store import pg_unit
from scimhub.store.base import MemberRef
from scimhub.store.base import StoredResource
from scimhub.store.sql import SqlStore
from tests import databases
from tests.conftest import sql_of
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import search

pytestmark = pytest.mark.anyio
on_postgres = pytest.mark.skipif(not databases.on_postgres(), reason="PostgreSQL's statements")


async def users_with_a_group(client: httpx2.AsyncClient) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """ada (in two groups: Staff then Admins), bob (in none), and the Staff group."""
    ada = await create_user(client, "ada")
    bob = await create_user(client, "bob")
    staff = await create_group(client, "Staff", [ada["id"]])
    await create_group(client, "Admins", [ada["id"]])
    return ada, bob, staff


def group_names(user: dict[str, Any]) -> list[str]:
    return [g["display"] for g in user.get("groups", [])]


async def test_an_existence_check_and_a_get_show_the_users_groups(client: httpx2.AsyncClient) -> None:
    ada, bob, _ = await users_with_a_group(client)

    [found] = (await search(client, "/Users", 'userName eq "ada"'))["Resources"]
    assert group_names(found) == ["Staff", "Admins"]
    [found] = (await search(client, "/Users", 'userName eq "bob"'))["Resources"]
    assert "groups" not in found
    assert group_names(await get_ok(client, f"/Users/{ada['id']}")) == ["Staff", "Admins"]
    assert "groups" not in await get_ok(client, f"/Users/{bob['id']}")
    assert (await search(client, "/Users", 'userName eq "nobody"'))["totalResults"] == 0


async def test_groups_come_in_membership_order_whatever_order_the_memberships_were_made(
    client: httpx2.AsyncClient,
) -> None:
    """Groups are listed by group (creation) order, as the plain path reads them, though ada joined
    Admins before Staff (SQLite's one-statement read sorts what its aggregate gathered)."""
    ada = await create_user(client, "ada")
    staff, admins = await create_group(client, "Staff", []), await create_group(client, "Admins", [])
    for group in (admins, staff):
        await patch_ok(
            client, f"/Groups/{group['id']}", {"op": "add", "path": "members", "value": [{"value": ada["id"]}]}
        )

    [found] = (await search(client, "/Users", 'userName eq "ada"'))["Resources"]
    assert group_names(found) == ["Staff", "Admins"]
    assert group_names(await get_ok(client, f"/Users/{ada['id']}")) == ["Staff", "Admins"]


async def test_an_existence_check_and_a_get_are_one_statement_each_with_the_users_groups(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    if databases.on_postgres():
        check, get = pg_reads.EQ_PAGE["k_user_name", True].pg_sql, pg_reads.RESOURCE_WITH_GROUPS.pg_sql
    else:
        check, get = sql_of(store, fast.EQ_PAGE_WITH_GROUPS["k_user_name"]), sql_of(store, fast.RESOURCE_WITH_GROUPS)
    ada, _, _ = await users_with_a_group(client)
    hot_statements.clear()

    [found] = (await search(client, "/Users", 'userName eq "ada"'))["Resources"]
    assert hot_statements == [check]
    assert group_names(found) == ["Staff", "Admins"]

    hot_statements.clear()
    assert group_names(await get_ok(client, f"/Users/{ada['id']}")) == ["Staff", "Admins"]
    assert hot_statements == [get]


@on_postgres
async def test_a_list_page_is_one_statement_with_its_count_and_groups(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    await users_with_a_group(client)
    hot_statements.clear()

    page = (await client.get("/Users", params={"startIndex": 1, "count": 10})).json()
    assert hot_statements == [pg_reads.COUNTED_PAGE["offset", True].pg_sql]
    assert page["totalResults"] == 2
    assert [group_names(u) for u in page["Resources"]] == [["Staff", "Admins"], []]

    hot_statements.clear()
    page = (await client.get("/Groups", params={"excludedAttributes": "members"})).json()
    assert hot_statements == [pg_reads.COUNTED_PAGE["offset", False].pg_sql]
    assert [g["displayName"] for g in page["Resources"]] == ["Staff", "Admins"]


async def test_a_page_walk_stays_right_after_a_deletion(client: httpx2.AsyncClient) -> None:
    users = [await create_user(client, f"u{i}") for i in range(6)]

    async def names(start: int) -> tuple[int, list[str]]:
        page = (await client.get("/Users", params={"startIndex": start, "count": 2})).json()
        return page["totalResults"], [u["userName"] for u in page["Resources"]]

    assert await names(1) == (6, ["u0", "u1"])
    assert await names(3) == (6, ["u2", "u3"])  # its end is remembered for startIndex=5
    assert (await client.delete(f"/Users/{users[0]['id']}")).status_code == 204

    # u0 is gone: the fifth user is u5 now, not the one after u3.
    assert await names(5) == (5, ["u5"])
    assert await names(1) == (5, ["u1", "u2"])
    assert await names(3) == (5, ["u3", "u4"])
    assert await names(5) == (5, ["u5"])  # from the position remembered just now
    assert await names(7) == (5, [])


async def test_a_cursor_walk_shows_every_user_once_with_its_groups(client: httpx2.AsyncClient) -> None:
    await users_with_a_group(client)
    await create_user(client, "cy")
    seen: list[tuple[str, list[str]]] = []
    params: dict[str, Any] = {"cursor": "", "count": 2}
    while True:
        page = (await client.get("/Users", params=params)).json()
        assert page["totalResults"] == 3
        seen += [(u["userName"], group_names(u)) for u in page["Resources"]]
        if "nextCursor" not in page:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == [("ada", ["Staff", "Admins"]), ("bob", []), ("cy", [])]


async def event_and_audit_rows(store: SqlStore) -> tuple[list[tuple[int, str]], list[tuple[str, Any, Any]]]:
    def rows(conn: Connection) -> tuple[list[tuple[int, str]], list[tuple[str, Any, Any]]]:
        events = conn.execute(text("SELECT seq, type FROM events ORDER BY seq")).all()
        audit = conn.execute(text("SELECT method, first_seq, last_seq FROM audit_log ORDER BY pk")).all()
        return [(int(s), t) for s, t in events], [(m, f, last) for m, f, last in audit]

    return await databases.on_connection(store, rows)


async def test_a_writes_events_are_numbered_in_order_with_its_audit_entry(
    client: httpx2.AsyncClient, store: SqlStore
) -> None:
    ada = await create_user(client, "ada", active=True)
    # Two events from one PATCH: the deactivation, then the other change.
    await patch_ok(
        client,
        f"/Users/{ada['id']}",
        {"op": "replace", "path": "active", "value": False},
        {"op": "replace", "path": "title", "value": "Countess"},
    )
    assert (await client.delete(f"/Users/{ada['id']}")).status_code == 204

    events, audit = await event_and_audit_rows(store)
    assert events == [(1, "user.created"), (2, "user.deactivated"), (3, "user.updated"), (4, "user.deleted")]
    assert audit == [("POST", 1, 1), ("PATCH", 2, 3), ("DELETE", 4, 4)]


async def test_a_refused_create_changes_no_count(client: httpx2.AsyncClient, store: SqlStore) -> None:
    await create_user(client, "ada")
    response = await client.post(
        "/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ADA"}
    )
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"
    assert (await client.get("/Users")).json()["totalResults"] == 1
    events, audit = await event_and_audit_rows(store)
    assert events == [(1, "user.created")]
    assert audit == [("POST", 1, 1), ("POST", None, None)]  # the refusal is audited on its own


async def test_emails_follow_a_replace_and_counts_follow_creates_and_deletes(client: httpx2.AsyncClient) -> None:
    ada = await create_user(client, "ada", emails=[{"value": "ada@old.org"}, {"value": "a@both.org"}])
    bob = await create_user(client, "bob")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada",
        "emails": [{"value": "A@Both.org"}, {"value": "ada@new.org"}],
    }
    assert (await client.put(f"/Users/{ada['id']}", json=body)).status_code == 200

    assert (await search(client, "/Users", 'emails.value eq "ada@old.org"'))["totalResults"] == 0
    for email in ("ada@new.org", "a@both.org"):
        [found] = (await search(client, "/Users", f'emails.value eq "{email}"'))["Resources"]
        assert found["id"] == ada["id"]
    assert (await client.delete(f"/Users/{bob['id']}")).status_code == 204
    assert (await client.get("/Users")).json()["totalResults"] == 1


@on_postgres
async def test_each_step_of_a_write_is_one_statement(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    hot_statements.clear()
    ada = await create_user(client, "ada", emails=[{"value": "ada@example.com"}])
    assert pg_unit.INSERT[True].pg_sql in hot_statements
    assert pg_unit.APPEND_EVENTS.pg_sql in hot_statements
    assert sql_of(store, fw.INSERT_AUDIT) in hot_statements

    hot_statements.clear()
    await patch_ok(client, f"/Users/{ada['id']}", {"op": "replace", "path": "active", "value": False})
    plain = {sql_of(store, s) for s in (*fw.UPDATE_RESOURCE.values(), fw.VALUES_OF, fw.NEXT_SEQ, fw.INSERT_EVENT)}
    assert pg_unit.UPDATE[False, True].pg_sql in hot_statements  # the key columns stayed as they were
    assert not plain & set(hot_statements)

    hot_statements.clear()
    assert (await client.delete(f"/Users/{ada['id']}")).status_code == 204
    assert pg_unit.DELETE.pg_sql in hot_statements
    assert sql_of(store, fw.COUNT) not in hot_statements


async def test_a_users_write_answers_with_its_groups(client: httpx2.AsyncClient) -> None:
    ada, _, staff = await users_with_a_group(client)
    patched = await patch_ok(client, f"/Users/{ada['id']}", {"op": "replace", "path": "title", "value": "Countess"})
    assert group_names(patched) == ["Staff", "Admins"]
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "ada", "title": "Lady"}
    replaced = (await client.put(f"/Users/{ada['id']}", json=body)).json()
    assert group_names(replaced) == ["Staff", "Admins"]
    assert (await client.delete(f"/Groups/{staff['id']}")).status_code == 204
    # A response that left the groups out leaves nothing behind for a later read of the user.
    quiet = await client.patch(
        f"/Users/{ada['id']}",
        params={"excludedAttributes": "groups"},
        json={
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Lady"}],
        },
    )
    assert quiet.status_code == 200 and "groups" not in quiet.json()
    assert group_names(await get_ok(client, f"/Users/{ada['id']}")) == ["Admins"]


@on_postgres
async def test_a_users_write_reads_its_groups_in_its_update(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    ada, _, _ = await users_with_a_group(client)
    hot_statements.clear()
    patched = await patch_ok(client, f"/Users/{ada['id']}", {"op": "replace", "path": "title", "value": "Countess"})
    assert group_names(patched) == ["Staff", "Admins"]
    assert pg_unit.UPDATE[False, True].pg_sql in hot_statements
    assert not {sql_of(store, s) for s in (fast.GROUPS_OF_PK, fast.GROUPS_OF_ONE)} & set(hot_statements)


def test_written_groups_are_taken_once_by_the_very_resource_written() -> None:
    written = pg_reads.WrittenGroups(capacity=2)
    ada, twin = (StoredResource("a", "User", {}, "t", "t", 2) for _ in range(2))
    staff = [MemberRef("g", "direct", "Staff")]
    written.keep(ada, staff)
    assert written.take(twin) is None  # the same id and version, but not the resource written
    assert written.take(ada) == staff
    assert written.take(ada) is None  # once
    others = [StoredResource(str(i), "User", {}, "t", "t", 1) for i in range(3)]
    for other in others:
        written.keep(other, [])
    assert written.take(others[0]) is None  # the oldest went first
    assert written.take(others[2]) == []


@on_postgres
async def test_the_one_statement_forms_read_through_indexes(client: httpx2.AsyncClient, store: SqlStore) -> None:
    """Each statement, explained with sequential scans priced out, still reads resources and
    group_members through an index: none has to scan either table."""
    ada, _, _ = await users_with_a_group(client)
    for i in range(20):
        await create_user(client, f"filler{i}")
    tenant = await databases.on_connection(
        store, lambda conn: conn.execute(text("SELECT tenant_id FROM resources LIMIT 1")).scalar_one()
    )
    page = {"tenant": tenant, "rtype": "User", "limit": 10, "offset": 0}
    statements = [
        (pg_reads.EQ_PAGE["k_user_name", True], {**page, "key": "ada"}),
        (pg_reads.VALUE_EQ_PAGE[True], {**page, "path": "emails.value", "key": "ada@example.com"}),
        (pg_reads.RESOURCE_WITH_GROUPS, {"tenant": tenant, "id": ada["id"], "rtype": "User"}),
        (pg_reads.COUNTED_PAGE["offset", True], page),
        (pg_reads.COUNTED_PAGE["after", True], {**page, "after": 3}),
        (pg_reads.COUNTED_PAGE["resume", True], {**page, "offset": 10, "after": 3, "removed": 0}),
        (pg_unit.GROUPS_AND_ROLES, {"member_pk": 1, "tenant": tenant}),
    ]
    async with store.db.engine.connect() as conn:  # type: ignore[attr-defined]
        driver = (await conn.get_raw_connection()).driver_connection
        for statement, params in statements:
            async with driver.transaction():
                await driver.execute("SET LOCAL enable_seqscan = off")
                values = [params[name] for name in statement.pg_names]
                lines = [line for (line,) in await driver.fetch(f"EXPLAIN {statement.pg_sql}", *values)]
            assert not [line for line in lines if "Seq Scan" in line], (statement.pg_sql, lines)
