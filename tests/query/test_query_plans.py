"""Query plans: lookups IdPs make are index probes, and list pages read the (tenant, type, pk) index.

The statements are the ones SqlStore.search really runs (captured with a ``before_cursor_execute``
listener), explained with and without planner statistics:

- SQLite: EXPLAIN QUERY PLAN, which shows the index SQLite's planner picks.
- PostgreSQL: EXPLAIN (FORMAT JSON), which shows whether the statement *can* be answered from the
  expected index. On tables of a few hundred rows PostgreSQL's cost-based choice among usable
  indexes says nothing about a large directory (any of them reads a page or two), so each plan is
  made with only the indexes under test (the others are dropped in a transaction that is rolled
  back) and with sequential scans and sorts priced out: a plan that still scans or sorts has no
  index that can do the work.

Indexes are identified by their columns, not by their generated names.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator
from collections.abc import Iterator
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy import text as sql

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
from scimhub.store.database import SqliteDatabase
from scimhub.store.database import open_database
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from tests import databases

pytestmark = pytest.mark.anyio

USERS_PER_TENANT = 60
PK_INDEX = ("tenant_id", "resource_type", "pk")
USER_NAME_INDEX = ("tenant_id", "resource_type", "k_user_name")
EXTERNAL_ID_INDEX = ("tenant_id", "resource_type", "k_external_id")
DOC_KEYS_INDEX = ("doc_keys",)  # PostgreSQL's GIN index of the comparison-key document
TABLES = ("resources", "resource_values")
Statement = tuple[str, Any]  # SQL and its parameters, as the driver got them


@dataclass(frozen=True)
class Index:
    table: str
    columns: tuple[str, ...]
    constraint: bool  # PostgreSQL: the index of a primary key or unique constraint


@dataclass
class Directory:
    store: SqlStore
    tenant_id: str
    user_ids: list[str]
    indexes: dict[str, Index]  # by name, for resources and resource_values
    analyzed: bool

    def columns(self, index: str) -> tuple[str, ...]:
        return self.indexes[index].columns


async def _index_list(store: SqlStore) -> dict[str, Index]:
    found: dict[str, Index] = {}
    if isinstance(store.db, SqliteDatabase):
        with store.db.engine.connect() as conn:
            for table in TABLES:
                for row in conn.exec_driver_sql(f"PRAGMA index_list({table})").all():
                    info = conn.exec_driver_sql(f"PRAGMA index_info({row[1]})").all()
                    found[row[1]] = Index(table, tuple(r[2] for r in info), constraint=False)
        return found
    query = """
        SELECT i.relname, t.relname, array_agg(a.attname ORDER BY k.n), c.oid IS NOT NULL
        FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        JOIN pg_class t ON t.oid = x.indrelid
        CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        LEFT JOIN pg_constraint c ON c.conindid = i.oid AND c.contype IN ('p', 'u')
        WHERE t.relname IN ('resources', 'resource_values') AND t.relnamespace = current_schema()::regnamespace
        GROUP BY i.relname, t.relname, c.oid
    """
    async with store.db.read() as tx:
        for name, table, columns, constraint in await tx.execute(sql(query)):
            found[name] = Index(table, tuple(columns), constraint)
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


async def _build(url: str, analyze: bool) -> tuple[str, list[str]]:
    # A pool of its own for the writes: this event loop ends with them.
    store = open_store(Settings(database_url=url, database_pool_size=2))
    try:
        tenant_id, user_ids = await _populate(store)
        if analyze:
            async with store.db.write() as tx:
                await tx.execute(sql("ANALYZE"))
    finally:
        await store.close()
    return tenant_id, user_ids


async def _migrate(url: str) -> None:
    database = open_database(url)
    try:
        await database.upgrade()
    finally:
        await database.dispose()


@contextmanager
def _plans_database(migrated_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of its own: a copy of the template file, or a new PostgreSQL database."""
    server = databases.server_url()
    if server is None:
        path = tmp_path_factory.mktemp("plans") / "plans.db"
        shutil.copy(migrated_template, path)
        yield f"sqlite:///{path}"
        return
    url = databases.create_database(server, prefix="scimhub_plans")
    try:
        asyncio.run(_migrate(url))
        yield url
    finally:
        databases.drop_database(url)


@pytest.fixture(scope="module", params=[False, True], ids=["no-statistics", "analyzed"])
def directory(
    migrated_template: Path, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Directory]:
    """Built once per module and variant (the tests only read); optionally ANALYZEd."""
    with _plans_database(migrated_template, tmp_path_factory) as url:
        tenant_id, user_ids = asyncio.run(_build(url, analyze=request.param))
        # No pool: every test runs on an event loop of its own.
        store = open_store(Settings(database_url=url, database_pool_size=0))
        # The plain path's statements: PostgreSQL's one-statement forms (store/pg_reads.py), which
        # read the groups by pk too, are explained in tests/store/test_pg_round_trips.py.
        store._pg_reads = None
        indexes = asyncio.run(_index_list(store))
        yield Directory(store, tenant_id, user_ids, indexes, request.param)
        asyncio.run(store.close())


@dataclass(frozen=True)
class Access:
    """One read of a table: through an index, constrained on some of its columns (``"pk>"``), or a
    full scan (no constraint: the table, or a whole index in order)."""

    table: str
    index: str | None  # None: the table itself (SQLite's rowid, PostgreSQL's heap)
    constraints: tuple[str, ...]
    line: str


@dataclass
class Plan:
    sql: str
    lines: list[str]  # what the database printed (one line per step or plan node)
    accesses: list[Access] = field(default_factory=list)
    sorts: list[str] = field(default_factory=list)  # steps that sort the rows read
    multi_index_or: bool = False  # an OR answered by two index probes whose results are united

    def uses(self) -> list[tuple[str, str]]:
        """(table, index) for every index access in the plan."""
        return [(a.table, a.index) for a in self.accesses if a.index is not None]

    def accesses_of(self, table: str) -> list[Access]:
        return [a for a in self.accesses if a.table == table]

    def full_scans_of(self, table: str) -> list[str]:
        return [a.line for a in self.accesses_of(table) if not a.constraints]


# SQLite: "SEARCH resources USING INDEX ix_… (tenant_id=? AND pk>?)", "SCAN resources", …
_SQLITE_ACCESS = re.compile(
    r"^(?:SEARCH|SCAN) (\w+)(?: AS \w+)?"
    r"(?: USING (?:COVERING )?INDEX (\w+)| USING INTEGER PRIMARY KEY)?(?: \((.*)\))?$"
)
# PostgreSQL's Index Cond: "(((tenant_id)::text = '…'::text) AND (pk > 30))" → tenant_id=, pk>
_PG_CONSTRAINT = re.compile(r"\(?(\w+)\)?(?:::[\w ]+)? (=|<|>|<=|>=|@>) ")


def _sqlite_plan(sql: str, lines: list[str]) -> Plan:
    plan = Plan(sql, lines)
    for line in lines:
        if match := _SQLITE_ACCESS.match(line):
            table, index, where = match.groups()
            constraints = tuple(c.strip().rstrip("?") for c in where.split(" AND ")) if where else ()
            plan.accesses.append(Access(table, index, constraints, line))
        else:
            assert not line.startswith(tuple(f"{s} {t}" for s in ("SCAN", "SEARCH") for t in TABLES)), line
        plan.sorts += [line] if "TEMP B-TREE" in line else []
        plan.multi_index_or |= line == "MULTI-INDEX OR"
    return plan


def _postgres_plan(sql: str, explained: list[dict[str, Any]]) -> Plan:
    plan = Plan(sql, [])

    def visit(node: dict[str, Any], depth: int, heap: str | None) -> None:
        kind, table = node["Node Type"], node.get("Relation Name", heap)
        line = " ".join(
            [kind, *(f"{k}: {node[k]}" for k in ("Relation Name", "Index Name", "Index Cond", "Filter") if k in node)]
        )
        plan.lines.append("  " * depth + line)
        if kind in ("Index Scan", "Index Only Scan", "Bitmap Index Scan"):
            where = node.get("Index Cond", "")
            constraints = tuple(column + op for column, op in _PG_CONSTRAINT.findall(where))
            plan.accesses.append(Access(table, node["Index Name"], constraints, line))
        elif kind == "Seq Scan":
            plan.accesses.append(Access(table, None, (), line))
        elif kind == "Sort":  # (not an Incremental Sort: that orders only rows tied in the index's order)
            plan.sorts.append(line)
        plan.multi_index_or |= kind == "BitmapOr"
        for child in node.get("Plans", []):
            visit(child, depth + 1, table if kind == "Bitmap Heap Scan" else heap)

    visit(explained[0]["Plan"], 0, None)
    return plan


@dataclass
class Captured:
    count: Plan
    page: Plan


@pytest.fixture
async def capture(directory: Directory) -> AsyncIterator[list[Statement]]:
    statements: list[Statement] = []

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    def fast_listener(statement: str, parameters: Any) -> None:
        listener(None, None, statement, tuple(parameters), None, False)

    db = directory.store.db
    engines = db.engines if isinstance(db, SqliteDatabase) else (db.engine.sync_engine,)  # SQLite: readers, writer
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    db.observers.append(fast_listener)  # the prepared hot statements run on the driver
    yield statements
    db.observers.remove(fast_listener)
    for engine in engines:
        event.remove(engine, "before_cursor_execute", listener)


async def explain(
    directory: Directory,
    capture: list[Statement],
    query: Query,
    only: Sequence[tuple[str, ...]],
    in_index_order: bool = False,
) -> Captured:
    """Run ``query`` through SqlStore.search and explain the count and page statements it ran.

    PostgreSQL plans with ``only`` the indexes of these columns on resources and resource_values,
    and (``in_index_order``) with sorting priced out: can an index give the rows their order?"""
    capture.clear()
    await directory.store.search(directory.tenant_id, query)
    assert len(capture) == 2, capture  # SELECT count(*) … and the page
    statements = list(capture)
    capture.clear()
    db = directory.store.db
    if isinstance(db, SqliteDatabase):
        with db.engine.connect() as conn:
            plans = [
                _sqlite_plan(sql, [r[3] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()])
                for sql, params in statements
            ]
        return Captured(*plans)
    async with db.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        transaction = driver.transaction()
        await transaction.start()
        try:
            for name, index in directory.indexes.items():
                if index.columns in only:
                    continue
                if index.constraint:  # (the foreign keys that need it go too, until the rollback)
                    await driver.execute(f"ALTER TABLE {index.table} DROP CONSTRAINT {name} CASCADE")
                else:
                    await driver.execute(f"DROP INDEX {name}")
            await driver.execute("SET LOCAL enable_seqscan = off")
            if in_index_order:
                await driver.execute("SET LOCAL enable_sort = off")
            plans = []
            for sql, params in statements:
                explained = await driver.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *params)
                # (the engine's connections decode json already)
                plans.append(_postgres_plan(sql, json.loads(explained) if isinstance(explained, str) else explained))
        finally:
            await transaction.rollback()
    return Captured(*plans)


def bound(resource_type: str, text: str) -> Any:
    registry = default_registry()
    return bind_filter(parse_filter(text), registry.resource_type(resource_type), registry.common, text)


def assert_index_probe(plan: Plan, directory: Directory, table: str, columns: tuple[str, ...]) -> None:
    """``plan`` reads ``table`` through the index of ``columns``, with a value for each of them."""
    probes = [a for a in plan.accesses_of(table) if a.index is not None and directory.columns(a.index) == columns]
    assert probes, (plan.lines, plan.sql)
    assert any({c.rstrip("=<>@") for c in a.constraints} >= set(columns) for a in probes), plan.lines
    assert plan.full_scans_of("resources") == [], plan.lines


def assert_reads_only_the_tenants_rows(plan: Plan) -> None:
    assert plan.full_scans_of("resources") == [], plan.lines
    assert any({"tenant_id=", "resource_type="} <= set(a.constraints) for a in plan.accesses_of("resources")), (
        plan.lines
    )


@pytest.mark.parametrize(
    ("resource_type", "text", "columns"),
    [
        ("User", 'userName eq "USER7"', USER_NAME_INDEX),
        ("User", 'externalId eq "ext-7"', EXTERNAL_ID_INDEX),
        ("User", 'displayName eq "user 7"', ("tenant_id", "resource_type", "k_display_name")),
        ("Group", 'displayName eq "group 3"', ("tenant_id", "resource_type", "k_display_name")),
        ("User", 'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "user7"', USER_NAME_INDEX),
    ],
)
async def test_an_equality_on_a_key_column_is_an_index_probe(
    directory: Directory, capture: list[Statement], resource_type: str, text: str, columns: tuple[str, ...]
) -> None:
    query = Query(resource_type, bound(resource_type, text), 1, 1)  # a full page: the COUNT runs too
    plans = await explain(directory, capture, query, only=[columns])

    assert_index_probe(plans.count, directory, "resources", columns)
    assert_index_probe(plans.page, directory, "resources", columns)


async def test_id_eq_is_an_index_probe(directory: Directory, capture: list[Statement]) -> None:
    text = f'id eq "{directory.user_ids[7]}"'
    plans = await explain(directory, capture, Query("User", bound("User", text), 1, 1), only=[("tenant_id", "id")])

    assert_index_probe(plans.count, directory, "resources", ("tenant_id", "id"))
    assert_index_probe(plans.page, directory, "resources", ("tenant_id", "id"))


@pytest.mark.parametrize(
    "text",
    [
        'emails.value eq "USER7@example.com"',
        'emails eq "u7@home.example"',
        'emails[type eq "work"].value eq "USER7@example.com"',  # Entra's match on email (E-TUT)
    ],
)
async def test_emails_value_eq_probes_resource_values_then_resources_by_pk(
    directory: Directory, capture: list[Statement], text: str
) -> None:
    values_index = ("tenant_id", "path", "value_key")
    query = Query("User", bound("User", text), 1, 1)  # a full page: the COUNT runs too
    plans = await explain(directory, capture, query, only=[values_index, ("pk",)])

    for plan in (plans.count, plans.page):
        assert_index_probe(plan, directory, "resource_values", values_index)
        resource_reads = plan.accesses_of("resources")
        assert resource_reads, plan.lines
        assert all({"pk=", "rowid="} & set(a.constraints) for a in resource_reads), plan.lines


_OR_WITHOUT_STATISTICS = {
    "sqlite": (
        "PERF: without sqlite_stat1 (nothing runs ANALYZE or PRAGMA optimize) SQLite reads every row "
        "of the tenant for `a eq x or b eq y` instead of a MULTI-INDEX OR of two probes."
    ),
    "postgresql": (
        "PERF: without statistics (before maintain() has run ANALYZE; the CI server runs no autovacuum) "
        "PostgreSQL estimates the tenant's rows at one and filters them for `a eq x or b eq y` "
        "instead of a BitmapOr of two probes."
    ),
}


async def test_an_or_of_indexed_equalities_unions_two_index_probes(
    directory: Directory, capture: list[Statement], request: pytest.FixtureRequest
) -> None:
    if not directory.analyzed:
        reason = _OR_WITHOUT_STATISTICS[directory.store.db.name]
        request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
    query = Query("User", bound("User", 'userName eq "user1" or externalId eq "ext-2"'), 1, 100)
    plans = await explain(directory, capture, query, only=[USER_NAME_INDEX, EXTERNAL_ID_INDEX])

    for plan in (plans.count, plans.page):
        assert plan.multi_index_or, plan.lines
        assert_index_probe(plan, directory, "resources", USER_NAME_INDEX)
        assert_index_probe(plan, directory, "resources", EXTERNAL_ID_INDEX)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("start_index", [1, 40])
async def test_the_plain_list_page_reads_the_tenant_type_pk_index_in_order(
    directory: Directory, capture: list[Statement], descending: bool, start_index: int
) -> None:
    query = Query("User", None, start_index, 10, descending=descending)
    plans = await explain(directory, capture, query, only=[PK_INDEX], in_index_order=True)

    assert [directory.columns(i) for t, i in plans.page.uses() if t == "resources"] == [PK_INDEX], plans.page.lines
    assert plans.page.sorts == [], plans.page.lines
    assert plans.count.full_scans_of("resources") == []
    assert plans.page.full_scans_of("resources") == []


@pytest.mark.parametrize(
    ("keyset", "comparison"),
    [(None, None), (Keyset(None, 30), "pk>"), (Keyset(None, 30, before=True), "pk<")],
    ids=["first", "next", "previous"],
)
async def test_a_cursor_page_is_a_range_scan_of_the_tenant_type_pk_index(
    directory: Directory, capture: list[Statement], keyset: Keyset | None, comparison: str | None
) -> None:
    query = Query("User", None, 1, 10, cursor_mode=True, keyset=keyset)
    plans = await explain(directory, capture, query, only=[PK_INDEX], in_index_order=True)

    (read,) = plans.page.accesses_of("resources")
    assert read.index is not None and directory.columns(read.index) == PK_INDEX, read.line
    if comparison is not None:
        assert comparison in read.constraints, read.line
    assert plans.page.sorts == [], plans.page.lines


async def test_a_substring_filter_scans_only_the_tenants_rows(directory: Directory, capture: list[Statement]) -> None:
    query = Query("User", bound("User", 'name.familyName co "ily3"'), 1, 10)
    plans = await explain(directory, capture, query, only=[PK_INDEX])

    for plan in (plans.count, plans.page):
        assert_reads_only_the_tenants_rows(plan)


@pytest.mark.parametrize(
    "text",
    [
        'title eq "x"',
        'name.familyName eq "FAMILY3"',
        'phoneNumbers.value eq "555-0100"',
        'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"',
    ],
)
async def test_an_equality_on_a_non_key_attribute_probes_the_document_index(
    directory: Directory, capture: list[Statement], text: str
) -> None:
    """PostgreSQL: the GIN index of the comparison-key document (``doc_keys @> …``); SQLite has no
    such index and reads the tenant's rows only."""
    plans = await explain(directory, capture, Query("User", bound("User", text), 1, 10), only=[DOC_KEYS_INDEX])

    for plan in (plans.count, plans.page):
        if databases.on_postgres():
            assert_index_probe(plan, directory, "resources", DOC_KEYS_INDEX)
        else:
            assert_reads_only_the_tenants_rows(plan)


async def test_a_cursor_page_sorted_by_user_name_needs_no_sort_step(
    directory: Directory, capture: list[Statement]
) -> None:
    registry = default_registry()
    sort_by = resolve_name(registry.resource_type("User"), registry.common, "userName")
    query = Query("User", None, 1, 10, sort_by=sort_by, cursor_mode=True, keyset=Keyset("user30", 31))

    plans = await explain(directory, capture, query, only=[USER_NAME_INDEX], in_index_order=True)

    # (PostgreSQL's index has no pk after userName: an Incremental Sort orders equal userNames by pk,
    # a group of one row each, userName being unique in the tenant. Plan.sorts counts full sorts.)
    assert plans.page.sorts == [], plans.page.lines
