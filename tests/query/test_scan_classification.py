"""Which queries may scan (off the event loop, under the deadline) and which are index probes.

``filter_sql.needs_scan`` must agree with what the SQL does: a probe that is wrongly called a
scan only costs a thread hop, but a scan wrongly called a probe runs on the event loop with no
deadline. The plans themselves are checked in test_query_plans.py; which statements ran where in
``test_scanning_statements_run_in_a_scan_thread``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import Any

import pytest

from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.schema.paths import resolve_name
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import Query
from scimhub.store.database import SqliteDatabase
from scimhub.store.dialects import POSTGRES
from scimhub.store.dialects import SQLITE
from scimhub.store.factory import open_store
from scimhub.store.filter_sql import needs_scan
from scimhub.store.scans import query_scans
from scimhub.store.sort_sql import index_ordered
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
REGISTRY = default_registry()

# (resource type, filter): index probes on both databases
PROBES = [
    ("User", 'userName eq "bjensen"'),
    ("User", 'externalId eq "00u1"'),
    ("User", 'displayName eq "Babs"'),
    ("User", 'id eq "2819c223"'),
    ("User", 'emails.value eq "b@example.com"'),
    ("User", 'userName eq "a" and title co "x"'),  # the planner starts from the probe
    ("User", 'userName eq "a" or emails.value eq "b"'),
    ("User", 'groups.value eq "g1"'),
    ("Group", 'members.value eq "u1"'),
    ("Group", 'members[value eq "u1"]'),
    ("Group", 'members[value eq "u1" or value eq "u2"]'),
    ("Group", 'displayName eq "Staff"'),
    ("User", 'emails[type eq "work"].value eq "b@example.com"'),  # Entra's match on email (E-TUT)
    ("User", 'emails[value eq "b@example.com" and primary eq true]'),
]
# read rows no index selects, on both databases
SCANS = [
    ("User", 'title co "x"'),
    ("User", 'userName co "x"'),
    ("User", 'userName sw "x"'),
    ("User", 'userName gt "m"'),
    ("User", "userName pr"),
    ("User", "userName eq null"),
    ("User", 'not (userName eq "x")'),
    ("User", 'userName eq "a" or title co "x"'),
    ("User", 'emails[type eq "work" or value eq "b@example.com"]'),
    ("User", "active eq true"),
    ("User", 'meta.created gt "2020-01-01T00:00:00Z"'),
    ("User", 'meta.resourceType eq "User"'),
    ("Group", 'members.display eq "Babs"'),
    ("Group", "members pr"),
    ("Group", 'members[value eq "u1" or display co "x"]'),
    ("User", " or ".join(f'addresses.streetAddress co "z{i}"' for i in range(110))),
]
# `eq` on a string of the document: PostgreSQL's GIN index answers it, SQLite reads the JSON
GIN_PROBES = [
    ("User", 'title eq "Engineer"'),
    ("User", 'name.familyName eq "Jensen"'),
    ("User", f'{ENTERPRISE}:employeeNumber eq "1"'),
    ("User", 'emails[type eq "work"]'),
    ("User", 'name[familyName eq "Jensen" and givenName sw "B"]'),
]


def bound(resource_type: str, text: str) -> Any:
    rtype = REGISTRY.resource_type(resource_type)
    return bind_filter(parse_filter(text), rtype, REGISTRY.common, text)


@pytest.mark.parametrize(("resource_type", "text"), PROBES)
def test_an_index_probe_runs_on_the_event_loop(resource_type: str, text: str) -> None:
    for dialect in (SQLITE, POSTGRES):
        assert not needs_scan(bound(resource_type, text), resource_type, dialect), (dialect, text)


@pytest.mark.parametrize(("resource_type", "text"), SCANS)
def test_a_filter_no_index_answers_scans(resource_type: str, text: str) -> None:
    for dialect in (SQLITE, POSTGRES):
        assert needs_scan(bound(resource_type, text), resource_type, dialect), (dialect, text)


@pytest.mark.parametrize(("resource_type", "text"), GIN_PROBES)
def test_eq_on_a_document_string_is_a_probe_on_postgresql_only(resource_type: str, text: str) -> None:
    assert not needs_scan(bound(resource_type, text), resource_type, POSTGRES)
    assert needs_scan(bound(resource_type, text), resource_type, SQLITE)


@pytest.mark.parametrize(
    ("sort_by", "ordered"),
    [("userName", True), ("id", True), ("externalId", True), ("title", False), ("meta.created", False)],
)
def test_only_a_required_key_column_sorts_in_index_order(sort_by: str, ordered: bool) -> None:
    path = resolve_name(REGISTRY.resource_type("User"), REGISTRY.common, sort_by)
    assert path is not None
    assert index_ordered(path) is ordered
    query = Query("User", bound("User", 'userName eq "x"'), sort_by=path)
    assert query_scans(query, SQLITE) is not ordered  # an unindexed sort reads every match


@pytest.mark.anyio
async def test_scanning_statements_run_in_a_scan_thread_and_probes_on_the_loop(
    store: SqlStore, acme: TenantAccess
) -> None:
    if not isinstance(store.db, SqliteDatabase):
        pytest.skip("SQLite: PostgreSQL statements are awaited (its scans get a statement_timeout instead)")
    await create_user(acme.client, "bjensen", title="Engineer")
    ran_in: list[tuple[str, str]] = []  # (SQL, thread)

    def observe(sql: str, _params: object) -> None:
        ran_in.append((sql, threading.current_thread().name))

    store.db.observers.append(observe)
    try:
        ran_in.clear()
        await get_ok(acme.client, "/Users", params={"filter": 'title co "engin"'})
        scanned = [name for sql, name in ran_in if "json_extract" in sql]  # the count and the page
        ran_in.clear()
        await get_ok(acme.client, "/Users", params={"filter": 'userName eq "bjensen"'})
        probed = [name for sql, name in ran_in if "k_user_name" in sql]
    finally:
        store.db.observers.remove(observe)

    assert len(scanned) == 2 and all(name.startswith("scimhub-scan") for name in scanned), scanned
    assert probed == [threading.current_thread().name], probed  # the event loop's thread


def test_the_deadline_comes_from_scimhub_query_timeout_seconds(database_url: str) -> None:
    settings = Settings.from_env({"SCIMHUB_DATABASE_URL": database_url, "SCIMHUB_QUERY_TIMEOUT_SECONDS": "0.25"})
    store = open_store(dataclasses.replace(settings, database_pool_size=0))
    try:
        assert (settings.query_timeout_seconds, store.query_timeout) == (0.25, 0.25)
        assert Settings().query_timeout_seconds == 3.0
    finally:
        asyncio.run(store.close())
    with pytest.raises(ValueError, match="SCIMHUB_QUERY_TIMEOUT_SECONDS must be a finite number of seconds"):
        Settings.from_env({"SCIMHUB_QUERY_TIMEOUT_SECONDS": "-1"})
