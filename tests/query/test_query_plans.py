"""Query plans: lookups IdPs make are index probes, and list pages read the (tenant, type, pk) index.

The statements are the ones SqlStore.search really runs (captured with a ``before_cursor_execute``
listener), explained with SQLite's EXPLAIN QUERY PLAN, with and without ANALYZE statistics.
Indexes are identified by their columns, not by SQLite's generated names.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.tenants import create_tenant
from scimhub.schema.paths import resolve_name
from scimhub.schema.project import Projection
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import Keyset
from scimhub.store.base import Query
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore

pytestmark = pytest.mark.anyio

USERS_PER_TENANT = 60
PK_INDEX = ("tenant_id", "resource_type", "pk")
_USING = re.compile(r"^(?:SEARCH|SCAN) (\w+)(?: AS \w+)? USING (?:COVERING )?INDEX (\w+)")


@dataclass
class Directory:
    store: SqlStore
    tenant_id: str
    user_ids: list[str]
    indexes: dict[str, tuple[str, ...]]  # index name -> columns, for resources and resource_values
    analyzed: bool


def _index_columns(store: SqlStore) -> dict[str, tuple[str, ...]]:
    found: dict[str, tuple[str, ...]] = {}
    with store.engine.connect() as conn:
        for table in ("resources", "resource_values"):
            for row in conn.exec_driver_sql(f"PRAGMA index_list({table})").all():
                info = conn.exec_driver_sql(f"PRAGMA index_info({row[1]})").all()
                found[row[1]] = tuple(r[2] for r in info)
    return found


async def _populate(store: SqlStore) -> tuple[str, list[str]]:
    """Two tenants of users (with emails) and groups; returns the last tenant and its user ids."""
    registry = default_registry()
    service = ResourceService(store, registry)
    user, group = registry.resource_type("User"), registry.resource_type("Group")
    tenant_id, user_ids = "", []
    for name in ("acme", "globex"):
        tenant = await create_tenant(store, name)
        ctx = RequestContext(Principal(tenant.id, "t"), "http://x/scim/v2")
        tenant_id, user_ids = tenant.id, []
        for i in range(USERS_PER_TENANT):
            body = {
                "userName": f"user{i}",
                "externalId": f"ext-{i}",
                "displayName": f"User {i}",
                "name": {"familyName": f"Family{i % 7}"},
                "emails": [{"value": f"user{i}@example.com", "type": "work"}, {"value": f"u{i}@home.example"}],
            }
            user_ids.append((await service.create(ctx, user, body, Projection())).doc["id"])
        for i in range(5):
            await service.create(ctx, group, {"displayName": f"Group {i}"}, Projection())
    return tenant_id, user_ids


@pytest.fixture(scope="module", params=[False, True], ids=["no-statistics", "analyzed"])
def directory(
    migrated_template: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Directory]:
    """Built once per module and variant (the tests only read); optionally ANALYZEd."""
    path = tmp_path_factory.mktemp("plans") / "plans.db"
    shutil.copy(migrated_template, path)
    store = open_store(Settings(database_url=f"sqlite:///{path}"))
    assert isinstance(store, SqlStore)
    tenant_id, user_ids = asyncio.run(_populate(store))
    if request.param:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    yield Directory(store, tenant_id, user_ids, _index_columns(store), request.param)
    store.engine.dispose()


@dataclass
class Plan:
    sql: str
    lines: list[str]

    def uses(self) -> list[tuple[str, str]]:
        """(table, index) for every index access in the plan."""
        return [(m.group(1), m.group(2)) for line in self.lines if (m := _USING.match(line))]

    def full_scans_of(self, table: str) -> list[str]:
        return [line for line in self.lines if line.startswith(f"SCAN {table}")]


@dataclass
class Captured:
    count: Plan
    page: Plan


@pytest.fixture
def capture(directory: Directory) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    def fast_listener(statement: str, parameters: Any) -> None:
        listener(None, None, statement, tuple(parameters), None, False)

    event.listen(directory.store.engine, "before_cursor_execute", listener)
    directory.store.fast.observers.append(fast_listener)
    yield statements
    directory.store.fast.observers.remove(fast_listener)
    event.remove(directory.store.engine, "before_cursor_execute", listener)


async def explain(directory: Directory, capture: list[tuple[str, Any]], query: Query) -> Captured:
    """Run ``query`` through SqlStore.search and explain the count and page statements it ran."""
    capture.clear()
    await directory.store.search(directory.tenant_id, query)
    assert len(capture) == 2, capture  # SELECT count(*) … and the page
    plans = []
    with directory.store.engine.connect() as conn:
        for sql, params in capture:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
            plans.append(Plan(sql, [r[3] for r in rows]))
    capture.clear()
    return Captured(*plans)


def bound(resource_type: str, text: str) -> Any:
    registry = default_registry()
    return bind_filter(parse_filter(text), registry.resource_type(resource_type), registry.common, text)


def assert_index_probe(plan: Plan, directory: Directory, table: str, columns: tuple[str, ...]) -> None:
    used = [directory.indexes[index] for t, index in plan.uses() if t == table]
    assert columns in used, (plan.lines, plan.sql)
    assert plan.full_scans_of("resources") == [], plan.lines


@pytest.mark.parametrize(
    ("resource_type", "text", "columns"),
    [
        ("User", 'userName eq "USER7"', ("tenant_id", "resource_type", "k_user_name")),
        ("User", 'externalId eq "ext-7"', ("tenant_id", "resource_type", "k_external_id")),
        ("User", 'displayName eq "user 7"', ("tenant_id", "resource_type", "k_display_name")),
        ("Group", 'displayName eq "group 3"', ("tenant_id", "resource_type", "k_display_name")),
        (
            "User",
            f'{"urn:ietf:params:scim:schemas:core:2.0:User"}:userName eq "user7"',
            ("tenant_id", "resource_type", "k_user_name"),
        ),
    ],
)
async def test_an_equality_on_a_key_column_is_an_index_probe(
    directory: Directory, capture: list[tuple[str, Any]], resource_type: str, text: str, columns: tuple[str, ...]
) -> None:
    plans = await explain(directory, capture, Query(resource_type, bound(resource_type, text), 1, 100))

    assert_index_probe(plans.count, directory, "resources", columns)
    assert_index_probe(plans.page, directory, "resources", columns)


async def test_id_eq_is_an_index_probe(directory: Directory, capture: list[tuple[str, Any]]) -> None:
    text = f'id eq "{directory.user_ids[7]}"'
    plans = await explain(directory, capture, Query("User", bound("User", text), 1, 100))

    assert_index_probe(plans.count, directory, "resources", ("tenant_id", "id"))
    assert_index_probe(plans.page, directory, "resources", ("tenant_id", "id"))


@pytest.mark.parametrize("text", ['emails.value eq "USER7@example.com"', 'emails eq "u7@home.example"'])
async def test_emails_value_eq_probes_resource_values_then_resources_by_pk(
    directory: Directory, capture: list[tuple[str, Any]], text: str
) -> None:
    plans = await explain(directory, capture, Query("User", bound("User", text), 1, 100))

    for plan in (plans.count, plans.page):
        assert_index_probe(plan, directory, "resource_values", ("tenant_id", "path", "value_key"))
        resource_lines = [line for line in plan.lines if line.startswith("SEARCH resources")]
        assert resource_lines, plan.lines
        assert all(re.search(r"\b(pk|rowid)=\?", line) for line in resource_lines), plan.lines


async def test_an_or_of_indexed_equalities_unions_two_index_probes(
    directory: Directory, capture: list[tuple[str, Any]], request: pytest.FixtureRequest
) -> None:
    if not directory.analyzed:
        reason = (
            "PERF: without sqlite_stat1 (nothing runs ANALYZE or PRAGMA optimize) SQLite reads every row "
            "of the tenant for `a eq x or b eq y` instead of a MULTI-INDEX OR of two probes."
        )
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    text = 'userName eq "user1" or externalId eq "ext-2"'
    plans = await explain(directory, capture, Query("User", bound("User", text), 1, 100))

    for plan in (plans.count, plans.page):
        assert "MULTI-INDEX OR" in plan.lines, plan.lines
        assert_index_probe(plan, directory, "resources", ("tenant_id", "resource_type", "k_user_name"))
        assert_index_probe(plan, directory, "resources", ("tenant_id", "resource_type", "k_external_id"))


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("start_index", [1, 40])
async def test_the_plain_list_page_reads_the_tenant_type_pk_index_in_order(
    directory: Directory, capture: list[tuple[str, Any]], descending: bool, start_index: int
) -> None:
    plans = await explain(directory, capture, Query("User", None, start_index, 10, descending=descending))

    assert [directory.indexes[i] for t, i in plans.page.uses() if t == "resources"] == [PK_INDEX], plans.page.lines
    assert not any("TEMP B-TREE" in line for line in plans.page.lines), plans.page.lines
    assert plans.count.full_scans_of("resources") == []
    assert plans.page.full_scans_of("resources") == []


@pytest.mark.parametrize(
    ("keyset", "comparison"),
    [(None, None), (Keyset(None, 30), "pk>?"), (Keyset(None, 30, before=True), "pk<?")],
    ids=["first", "next", "previous"],
)
async def test_a_cursor_page_is_a_range_scan_of_the_tenant_type_pk_index(
    directory: Directory, capture: list[tuple[str, Any]], keyset: Keyset | None, comparison: str | None
) -> None:
    plans = await explain(directory, capture, Query("User", None, 1, 10, cursor_mode=True, keyset=keyset))

    (line,) = [line for line in plans.page.lines if line.startswith(("SEARCH resources", "SCAN resources"))]
    assert directory.indexes[_USING.match(line).group(2)] == PK_INDEX  # type: ignore[union-attr]
    if comparison is not None:
        assert comparison in line, line
    assert not any("TEMP B-TREE" in line for line in plans.page.lines), plans.page.lines


async def test_a_substring_filter_scans_only_the_tenants_rows(
    directory: Directory, capture: list[tuple[str, Any]]
) -> None:
    plans = await explain(directory, capture, Query("User", bound("User", 'name.familyName co "ily3"'), 1, 10))

    for plan in (plans.count, plans.page):
        assert plan.full_scans_of("resources") == [], plan.lines
        assert any("tenant_id=? AND resource_type=?" in line for line in plan.lines), plan.lines


async def test_a_cursor_page_sorted_by_user_name_needs_no_sort_step(
    directory: Directory, capture: list[tuple[str, Any]]
) -> None:
    registry = default_registry()
    sort_by = resolve_name(registry.resource_type("User"), registry.common, "userName")
    query = Query("User", None, 1, 10, sort_by=sort_by, cursor_mode=True, keyset=Keyset("user30", 31))

    plans = await explain(directory, capture, query)

    assert not any("TEMP B-TREE" in line for line in plans.page.lines), plans.page.lines
