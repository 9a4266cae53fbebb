"""Each directory page is one statement on an index (SQLite's EXPLAIN QUERY PLAN): the group's
memberships, the role's holders, the deactivated users' partial index, or (tenant, type, pk);
never a scan of the tenant; and a page's groups and roles are one statement each."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import sqlite

from scimhub.store import fast_reads as fast
from scimhub.store.database import SqliteDatabase
from scimhub.store.directory_sql import UserFilter
from scimhub.store.directory_sql import _users
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.conftest import sql_of
from tests.directory.support import admin_ok
from tests.events.support import create_group
from tests.events.support import create_user

pytestmark = pytest.mark.anyio


def plan(store: SqlStore, where: UserFilter) -> list[str]:
    assert isinstance(store.db, SqliteDatabase)
    statement = _users("t", 0, where).limit(101)
    text = str(statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}))
    with store.db.engine.connect() as conn:
        return [row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {text}").all()]


@pytest.mark.parametrize(
    ("where", "index"),
    [
        (
            UserFilter(),
            "resources USING INDEX ix_resources_tenant_id_resource_type_pk (tenant_id=? AND resource_type=? AND pk>?)",
        ),
        (UserFilter(state="active"), "resources USING INDEX ix_resources_tenant_id_resource_type_pk"),
        (
            UserFilter(state="inactive"),
            "resources USING INDEX ix_resources_inactive (tenant_id=? AND resource_type=? AND pk>?)",
        ),
        (
            UserFilter(group_pk=3),
            "group_members USING COVERING INDEX sqlite_autoindex_group_members_1 (group_pk=? AND member_pk>?)",
        ),
        (
            UserFilter(role="admin"),
            "user_roles USING COVERING INDEX ix_user_roles_tenant_id_role_user_pk (tenant_id=? AND role=?",
        ),
        (
            UserFilter(group_pk=3, role="admin", state="inactive"),
            "group_members USING COVERING INDEX sqlite_autoindex_group_members_1",
        ),
    ],
)
def test_a_user_page_is_a_range_of_one_index(store: SqlStore, where: UserFilter, index: str) -> None:
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("EXPLAIN QUERY PLAN is SQLite's")
    found = plan(store, where)
    assert found[0] == f"SEARCH {index}" or found[0].startswith(f"SEARCH {index}"), found
    assert not any(line.startswith("SCAN") or "TEMP B-TREE" in line for line in found), found


async def test_a_page_reads_its_groups_by_pk_in_one_statement(
    app: object, store: SqlStore, acme: TenantAccess, hot_statements: list[str]
) -> None:
    users = [await create_user(acme.client, f"u{i}") for i in range(3)]
    await create_group(acme.client, "Eng", users)
    hot_statements.clear()

    page = await admin_ok(app, "/tenants/acme/directory/users")

    assert [u["groups"][0]["displayName"] for u in page["users"]] == ["Eng"] * 3
    assert hot_statements.count(sql_of(store, fast.GROUPS_OF_PKS)) == 1
