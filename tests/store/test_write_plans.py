"""The statements a write runs on SQLite's writer are index probes whatever sqlite_stat1 says.

A new server's first upkeep runs ANALYZE while the directory holds a row or two; until the next
one (minutes later, once the row count has doubled) SQLite's planner believes every table has one
row and prefers reading a whole table to probing an index. The hot write statements must not
depend on that: each one a POST, PATCH, PUT and DELETE of a user runs is explained here under such
statistics, on a directory that has grown since.
"""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import Connection

from scimhub.store.database import SqliteDatabase
from scimhub.store.sql import SqlStore
from tests import databases
from tests.bulk.test_bulk import post
from tests.bulk.test_bulk import send
from tests.http.scim_checks import create_group
from tests.http.scim_checks import create_user
from tests.http.scim_checks import patch_ok
from tests.http.scim_checks import user_body

pytestmark = pytest.mark.anyio


def full_scans(conn: Connection, sql: str) -> list[str]:
    """The steps of ``sql``'s plan that read a whole table or index (json_each's rows aside)."""
    plan = [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", (None,) * sql.count("?")).all()]
    return [step for step in plan if step.startswith("SCAN") and "VIRTUAL TABLE" not in step]


async def test_each_write_statement_probes_an_index_under_one_row_statistics(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("sqlite_stat1 and EXPLAIN QUERY PLAN are SQLite's")
    first = await create_user(client, "first", emails=[{"value": "first@example.com"}])
    await store.maintain()  # ANALYZE with one user in the directory
    users = [await create_user(client, f"user{i}", emails=[{"value": f"u{i}@example.com"}]) for i in range(30)]
    await create_group(client, "staff", [users[0]["id"], first["id"]])
    hot_statements.clear()

    await create_user(client, "new", emails=[{"value": "new@example.com"}])
    await patch_ok(client, f"/Users/{users[1]['id']}", {"op": "replace", "path": "active", "value": False})
    put = await client.put(f"/Users/{users[2]['id']}", json={**users[2], "title": "Engineer"})
    assert put.status_code == 200, put.text
    assert (await client.delete(f"/Users/{users[0]['id']}")).status_code == 204
    results = await send(client, *(post("/Users", n, user_body(n)) for n in ("bulk1", "bulk2", "user3")))
    assert [r["status"] for r in results] == ["201", "201", "409"]  # a run of creates (batch_sql)

    def scans(conn: Connection) -> dict[str, list[str]]:
        stats = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'resource_values'").scalars().all()
        assert stats and all(s.startswith("1 ") for s in stats)  # still the one-row statistics
        found = {sql: full_scans(conn, sql) for sql in dict.fromkeys(hot_statements)}
        return {sql: steps for sql, steps in found.items() if steps}

    assert len(set(hot_statements)) >= 10  # the writes ran their prepared statements
    assert await databases.on_connection(store, scans) == {}
