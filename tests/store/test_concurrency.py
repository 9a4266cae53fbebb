"""The database, not the process, enforces uniqueness and keeps member changes consistent."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from scimhub.errors import Uniqueness
from scimhub.protocol.context import Principal
from scimhub.protocol.context import RequestContext
from scimhub.protocol.resources import ResourceService
from scimhub.protocol.tenants import create_tenant
from scimhub.schema.project import Projection
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import Tenant
from scimhub.store.database import SqliteDatabase
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


async def test_concurrent_creates_of_one_user_name_through_the_app_give_one_201(acme: TenantAccess) -> None:
    bodies = [{"schemas": [USER], "userName": name} for name in ("Pat", "pat", "PAT", "pAt") * 5]
    responses = await asyncio.gather(*(acme.client.post("/Users", json=b) for b in bodies))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 19
    assert (await acme.client.get("/Users")).json()["totalResults"] == 1


def test_two_processes_worth_of_stores_cannot_both_create_one_user_name(settings: Settings) -> None:
    """Two independent engines (as two server processes would have) race on one database."""

    async def provision() -> Tenant:
        setup = open_store(settings)
        try:
            return await create_tenant(setup, "acme")
        finally:
            await setup.close()

    tenant = asyncio.run(provision())
    registry = default_registry()
    outcomes: list[str] = []
    start = threading.Barrier(4)

    async def create(index: int) -> None:
        store = open_store(settings)
        service = ResourceService(store, registry)
        ctx = RequestContext(Principal(tenant.id, f"t{index}"), "http://x/scim/v2")
        try:
            await service.create(ctx, registry.resource_type("User"), {"userName": "Race@x"}, Projection())
            outcomes.append("created")
        except Uniqueness:
            outcomes.append("409")
        finally:
            await store.close()

    def racer(index: int) -> None:
        start.wait()
        asyncio.run(create(index))

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["409", "409", "409", "created"]


@contextmanager
def statements_of(store: SqlStore, record: Callable[[str, Any], None]) -> Iterator[None]:
    """Call ``record(sql, parameters)`` for every statement the store runs through SQLAlchemy, and
    (SQLite) for every hot read it runs on its own sqlite3 connection."""

    def listener(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        record(statement, parameters)

    db = store.db
    engines = db.engines if isinstance(db, SqliteDatabase) else (db.engine.sync_engine,)  # SQLite: readers, writer
    for engine in engines:
        event.listen(engine, "before_cursor_execute", listener)
    db.observers.append(record)  # the prepared hot statements run on the driver
    try:
        yield
    finally:
        db.observers.remove(record)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", listener)


async def test_listing_groups_without_members_reads_no_member_rows(store: SqlStore, acme: TenantAccess) -> None:
    users = [
        (await acme.client.post("/Users", json={"schemas": [USER], "userName": f"u{i}"})).json()["id"] for i in range(3)
    ]
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "G",
        "members": [{"value": u} for u in users],
    }
    assert (await acme.client.post("/Groups", json=group)).status_code == 201
    statements: list[str] = []

    with statements_of(store, lambda statement, _params: statements.append(statement)):
        for path in (
            "/Groups?excludedAttributes=members",
            '/Groups?excludedAttributes=members&filter=displayName eq "G"',
        ):
            response = await acme.client.get(path)
            assert response.status_code == 200 and "members" not in response.json()["Resources"][0]
    assert statements
    assert not [s for s in statements if "group_members" in s]


async def test_a_member_add_to_a_large_group_touches_one_membership_row(store: SqlStore, acme: TenantAccess) -> None:
    users = [
        (await acme.client.post("/Users", json={"schemas": [USER], "userName": f"m{i}"})).json()["id"]
        for i in range(201)
    ]
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Big",
        "members": [{"value": u} for u in users[:200]],
    }
    gid = (await acme.client.post("/Groups", json=group)).json()["id"]
    writes: list[tuple[str, Any]] = []

    def record(statement: str, parameters: Any) -> None:
        if "group_members" in statement and not statement.lstrip().upper().startswith("SELECT"):
            writes.append((statement, parameters))

    with statements_of(store, record):
        patch = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": users[200]}]}],
        }
        response = await acme.client.patch(f"/Groups/{gid}", json=patch)
    assert response.status_code == 204
    assert len(writes) == 1 and writes[0][0].lstrip().upper().startswith("INSERT")
    rows = writes[0][1]
    # A Core executemany records its list of parameter sets; a prepared statement one row's values.
    batch = isinstance(rows, list) and bool(rows) and isinstance(rows[0], dict | list | tuple)
    assert (len(rows) if batch else 1) == 1
