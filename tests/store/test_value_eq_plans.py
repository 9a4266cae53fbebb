"""An equality on an indexed multi-valued value (``emails.value eq``, an extension attribute the
tenant indexed) probes resource_values' index whatever sqlite_stat1 says: a new server's first
upkeep runs ANALYZE with a row or two in the directory, and until the next one SQLite's planner
believes every table has one row (tests/store/test_write_plans.py says why writes care too)."""

from __future__ import annotations

import httpx2
import pytest
from sqlalchemy import Connection

from scimhub.store.database import SqliteDatabase
from scimhub.store.sql import SqlStore
from tests import databases
from tests.http.scim_checks import create_user
from tests.http.scim_checks import search
from tests.store.test_write_plans import full_scans

pytestmark = pytest.mark.anyio


async def test_an_emails_value_eq_probes_the_value_index_under_one_row_statistics(
    client: httpx2.AsyncClient, store: SqlStore, hot_statements: list[str]
) -> None:
    first = await create_user(client, "first", emails=[{"value": "first@example.com"}])
    await store.maintain()  # ANALYZE with one user in the directory
    for i in range(30):
        await create_user(client, f"user{i}", emails=[{"value": f"u{i}@example.com"}])
    hot_statements.clear()

    found = await search(client, "/Users", 'emails.value eq "FIRST@example.com"')

    assert [u["id"] for u in found["Resources"]] == [first["id"]]
    assert found["totalResults"] == 1
    if not isinstance(store.db, SqliteDatabase):
        return  # sqlite_stat1 and EXPLAIN QUERY PLAN are SQLite's; the answer above is both's

    def scans(conn: Connection) -> dict[str, list[str]]:
        stats = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE tbl = 'resource_values'").scalars().all()
        assert stats and all(s.startswith("1 ") for s in stats)  # still the one-row statistics
        found = {sql: full_scans(conn, sql) for sql in dict.fromkeys(hot_statements)}
        return {sql: steps for sql, steps in found.items() if steps}

    assert hot_statements  # the filter ran the prepared statements
    assert await databases.on_connection(store, scans) == {}
