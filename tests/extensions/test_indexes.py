"""Indexed extension attributes (``scimhub schema index``): writers maintain the value index, eq
filters probe it once it is complete, and dropping it (or the schema) keeps the values."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from sqlalchemy import func
from sqlalchemy import select

from scimhub.events.worker import Sender
from scimhub.filter.bind import bind_filter
from scimhub.filter.parser import parse_filter
from scimhub.http.admin import AdminRuntime
from scimhub.http.admin import admin_app
from scimhub.policy import Policy
from scimhub.schema.registry import tenant_registry
from scimhub.settings import Settings
from scimhub.store.dialects import SqliteJson
from scimhub.store.events_sql import EventStore
from scimhub.store.filter_sql import compile_filter
from scimhub.store.filter_sql import needs_scan
from scimhub.store.index_plan import extension_index_path
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore
from scimhub.store.tables import resource_values
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.events.support import ADMIN_TOKEN
from tests.extensions.support import ACME
from tests.extensions.support import acme_schema
from tests.extensions.support import declare
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import client_for
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_ok

pytestmark = pytest.mark.anyio
# Each test reads through an app made after the command: no server holds an older declaration.
NOW = ("--settle-seconds", "0")


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings.database_url)


async def _user(client: httpx2.AsyncClient, name: str, **ext: Any) -> dict[str, Any]:
    response = await client.post("/Users", json={"schemas": [USER, ACME], "userName": name, ACME: ext})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _index_rows(store: SqlStore, name: str = "costCenter") -> int:
    async with store.db.read() as tx:
        query = select(func.count()).where(resource_values.c.path == extension_index_path(ACME, name))
        return int((await tx.execute(query)).scalar_one())


async def _ids(client: httpx2.AsyncClient, expression: str) -> set[str]:
    body = await get_ok(client, "/Users", params={"filter": expression})
    return {r["id"] for r in body["Resources"]}


async def test_an_index_is_built_maintained_and_used(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await declare(store, acme.tenant_id)
    a = await _user(acme.client, "a", costCenter="CC-1")
    b = await _user(acme.client, "b", costCenter="cc-2")
    await _user(acme.client, "c")

    indexed = cli.ok("schema", "index", "acme", ACME, "costCenter", *NOW)
    listed = cli.ok("schema", "list", "acme")
    async with client_for(app_with(settings, store), acme.token) as client:  # sees the complete index
        found = await _ids(client, f'{ACME}:costCenter eq "cc-1"')
        created = await _user(client, "d", costCenter="CC-1")
        await patch_ok(client, f"/Users/{b['id']}", {"op": "replace", "path": f"{ACME}:costCenter", "value": "CC-1"})
        await patch_ok(client, f"/Users/{a['id']}", {"op": "remove", "path": f"{ACME}:costCenter"})
        after_writes = await _ids(client, f'{ACME}:costCenter eq "CC-1"')
        rows_after = await _index_rows(store)
        await client.delete(f"/Users/{created['id']}")
        after_delete = await _ids(client, f'{ACME}:costCenter eq "CC-1" or {ACME}:costCenter eq "nothing"')

    assert indexed == [f"Indexed {ACME}:costCenter (2 resources hold a value); eq filters on it use the index."]
    assert listed[1].endswith("\tcostCenter")
    assert found == {a["id"]}
    assert after_writes == {b["id"], created["id"]}
    assert rows_after == 2
    assert after_delete == {b["id"]}


async def test_an_indexed_equality_compiles_to_a_probe_of_the_value_index(store: SqlStore, acme: TenantAccess) -> None:
    declared = await declare(store, acme.tenant_id)
    plain = tenant_registry([declared])
    ready = tenant_registry([replace(declared, indexed=("costCenter",), ready=("costCenter",))])
    building = tenant_registry([replace(declared, indexed=("costCenter",))])

    def bound(registry: Any) -> Any:
        text = f'{ACME}:costCenter eq "X"'
        return bind_filter(parse_filter(text), registry.resource_type("User"), registry.common, text, Policy())

    def sql(registry: Any) -> str:
        return str(compile_filter(bound(registry), acme.tenant_id, "User", SqliteJson()).compile())

    assert "resource_values" in sql(ready)
    assert "resource_values" not in sql(building)  # being built: not complete, so not used
    assert "resource_values" not in sql(plain)
    # A probe runs on the event loop; without the index SQLite reads the tenant (off it, under the deadline).
    assert [needs_scan(bound(r), "User", SqliteJson()) for r in (ready, building, plain)] == [False, True, True]


async def test_schema_add_with_index_and_unindex_keep_the_values(
    cli: Cli, tmp_path: Path, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    path = tmp_path / "acme.json"
    path.write_bytes(orjson.dumps(acme_schema()))
    added = cli.ok("schema", "add", "acme", str(path), "--index", "costCenter", "--index", "tier", *NOW)
    async with client_for(app_with(settings, store), acme.token) as client:
        a = await _user(client, "a", costCenter="7", tier="Gold")
        rows = await _index_rows(store), await _index_rows(store, "tier")
        exact = await _ids(client, f'{ACME}:tier eq "Gold"'), await _ids(client, f'{ACME}:tier eq "gold"')

    dropped = cli.ok("schema", "unindex", "acme", ACME, "costCenter", *NOW)
    async with client_for(app_with(settings, store), acme.token) as client:
        still = await _ids(client, f'{ACME}:costCenter eq "7"')
        fetched = await get_ok(client, f"/Users/{a['id']}")

    assert added[1:] == [
        f"Indexed {ACME}:costCenter (0 resources hold a value); eq filters on it use the index.",
        f"Indexed {ACME}:tier (0 resources hold a value); eq filters on it use the index.",
    ]
    assert rows == (1, 1)
    assert exact == ({a["id"]}, set())  # tier is caseExact, in the index too
    assert dropped == [f"Dropped the index of {ACME}:costCenter; its values are kept."]
    assert still == {a["id"]}
    assert await _index_rows(store) == 0 and await _index_rows(store, "tier") == 1
    assert fetched[ACME] == {"costCenter": "7", "tier": "Gold"}
    assert cli.ok("schema", "list", "acme")[1].endswith("\ttier")


async def test_removing_an_indexed_schema_drops_its_index_rows_and_keeps_the_values(
    cli: Cli, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await declare(store, acme.tenant_id)
    created = await _user(acme.client, "a", costCenter="7")
    cli.ok("schema", "index", "acme", ACME, "costCenter", *NOW)

    cli.ok("schema", "remove", "acme", ACME, *NOW)
    async with client_for(app_with(settings, store), acme.token) as client:
        fetched = await get_ok(client, f"/Users/{created['id']}")

    assert await _index_rows(store) == 0
    assert fetched[ACME] == {"costCenter": "7"}
    assert await TenantSchemaStore(store.db).declared(acme.tenant_id) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ACME, "nope"), f"{ACME} declares no attribute 'nope'"),
        ((ACME, "badge"), "is of type integer; only string attributes can be indexed"),
        (("urn:acme:other:1.0:User", "x"), "No extension schema urn:acme:other:1.0:User is declared"),
    ],
)
async def test_an_index_that_cannot_be_built_is_refused_and_nothing_changes(
    cli: Cli, store: SqlStore, acme: TenantAccess, args: tuple[str, str], message: str
) -> None:
    await declare(store, acme.tenant_id)
    before = await TenantSchemaStore(store.db).declared(acme.tenant_id)

    result = cli("schema", "index", "acme", *args, *NOW)
    unindex = cli("schema", "unindex", "acme", ACME, "costCenter", *NOW)

    assert result.exit_code == 1 and message in result.stderr
    assert unindex.exit_code == 1 and "is not indexed (indexed: none)" in unindex.stderr
    assert await TenantSchemaStore(store.db).declared(acme.tenant_id) == before


async def test_the_admin_api_builds_and_drops_an_index(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    await declare(store, acme.tenant_id)
    await _user(acme.client, "a", costCenter="7")
    # The admin API of servers that cache no tenant config: nothing to wait for before indexing.
    events = EventStore.of(store)
    app = admin_app(ADMIN_TOKEN, AdminRuntime(store, events, Sender(1.0), tenant_config_seconds=0.0))
    url = f"/tenants/acme/schemas/{ACME}/indexes"

    transport = httpx2.ASGITransport(app=app)  # the admin app alone, as create_app mounts it
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver", headers=headers) as admin:
        built = await admin.put(f"{url}/costCenter")
        rows = await _index_rows(store)
        not_string = await admin.put(f"{url}/badge")
        unknown = await admin.put("/tenants/acme/schemas/urn:acme:none:1.0:User/indexes/x")
        dropped = await admin.delete(f"{url}/costCenter")
        again = await admin.delete(f"{url}/costCenter")

    assert built.status_code == 200
    assert built.json()["indexed"] == ["costCenter"] and built.json()["indexedResources"] == 1
    assert rows == 1
    assert not_string.status_code == 400 and "only string attributes can be indexed" in not_string.json()["detail"]
    assert unknown.status_code == 404
    assert dropped.status_code == 204 and await _index_rows(store) == 0
    assert again.status_code == 404 and "is not indexed" in again.json()["detail"]
