"""Declaring extension schemas: ``scimhub schema add/list/show/remove`` and the admin API, refusals
that change nothing, stored values kept when a declaration goes, and how fast servers see changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from scimhub.events.feed import read_feed
from scimhub.policy import Policy
from scimhub.protocol.tenant_config import CACHE_SECONDS
from scimhub.protocol.tenant_config import TenantConfigCache
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.events.support import ADMIN_TOKEN
from tests.events.support import admin_client
from tests.extensions.support import ACME
from tests.extensions.support import ACME_GROUP
from tests.extensions.support import OKTA_EXT
from tests.extensions.support import acme_schema
from tests.extensions.support import declare
from tests.extensions.support import simple_schema
from tests.http.scim_checks import USER
from tests.http.scim_checks import app_with
from tests.http.scim_checks import client_for
from tests.http.scim_checks import get_ok

pytestmark = pytest.mark.anyio


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings.database_url)


def _file(tmp_path: Path, data: Any, name: str = "schema.json") -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else orjson.dumps(data))
    return str(path)


# -- CLI ----------------------------------------------------------------------------------------


async def test_cli_add_list_show_remove(cli: Cli, tmp_path: Path, acme: TenantAccess) -> None:
    added = cli.ok("schema", "add", "acme", _file(tmp_path, acme_schema()))
    group = cli.ok(
        "schema",
        "add",
        "acme",
        _file(tmp_path, simple_schema(ACME_GROUP, "site"), "g.json"),
        "--resource-type",
        "Group",
    )
    listed = cli.ok("schema", "list", "acme")
    shown = orjson.loads("\n".join(cli.ok("schema", "show", "acme", ACME.upper())))
    removed = cli.ok("schema", "remove", "acme", ACME)
    after = cli.ok("schema", "list", "acme")

    assert added == [f"Declared {ACME} (User) for tenant acme. Servers use the change within 10 seconds."]
    assert group[0].startswith(f"Declared {ACME_GROUP} (Group)")
    assert listed == [
        "id\tresource_type\trequired\tattributes\tindexed",
        f"{ACME_GROUP}\tGroup\tno\tsite\t-",
        f"{ACME}\tUser\tno\tcostCenter,badge,contractor,hireDate,employeeId,tier,internalNote,tags,badges\t-",
    ]
    assert shown["id"] == ACME and shown["attributes"][0]["name"] == "costCenter"
    assert shown["attributes"][0]["mutability"] == "readWrite"  # the canonical form, every characteristic
    assert removed[0].startswith(f"Removed the declaration of {ACME} from tenant acme; stored values are kept.")
    assert after == ["id\tresource_type\trequired\tattributes\tindexed", f"{ACME_GROUP}\tGroup\tno\tsite\t-"]
    group_type = await get_ok(acme.client, "/ResourceTypes/Group")
    assert group_type["schemaExtensions"] == [{"schema": ACME_GROUP, "required": False}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not JSON"),
        ({"id": ACME, "attributes": [{"name": "a", "type": "text"}]}, "type 'text' is not one of"),
        ({"id": USER, "attributes": [{"name": "a", "type": "string"}]}, f"collides with the schema {USER}"),
        (
            {"id": ACME, "attributes": [{"name": "a", "type": "string", "subAttributes": []}]},
            "has subAttributes but is of type string",
        ),
    ],
)
async def test_cli_refuses_a_bad_schema_file_and_changes_nothing(
    cli: Cli, tmp_path: Path, acme: TenantAccess, content: Any, message: str
) -> None:
    result = cli("schema", "add", "acme", _file(tmp_path, content))

    assert result.exit_code == 1
    assert message in result.stderr
    assert cli.ok("schema", "list", "acme") == ["id\tresource_type\trequired\tattributes\tindexed"]
    assert ACME not in {s["id"] for s in (await get_ok(acme.client, "/Schemas"))["Resources"]}


async def test_cli_update_may_add_attributes_but_not_retype_one(cli: Cli, tmp_path: Path, acme: TenantAccess) -> None:
    cli.ok("schema", "add", "acme", _file(tmp_path, simple_schema(ACME, "costCenter")))
    before = cli.ok("schema", "show", "acme", ACME)

    retyped = cli(
        "schema",
        "add",
        "acme",
        _file(tmp_path, {"id": ACME, "attributes": [{"name": "costCenter", "type": "integer"}]}),
    )
    unchanged = cli.ok("schema", "show", "acme", ACME)
    moved = cli("schema", "add", "acme", _file(tmp_path, simple_schema(ACME, "costCenter")), "--resource-type", "Group")
    updated = cli.ok("schema", "add", "acme", _file(tmp_path, simple_schema(ACME, "costCenter", "floor")))

    assert retyped.exit_code == 1 and "cannot change type from 'string' to 'integer'" in retyped.stderr
    assert unchanged == before
    assert moved.exit_code == 1 and "extends User; remove it before declaring it for Group" in moved.stderr
    assert updated[0].startswith(f"Updated {ACME} (User)")
    assert cli.ok("schema", "list", "acme")[1].split("\t")[3] == "costCenter,floor"


def test_cli_names_what_is_missing(cli: Cli, tmp_path: Path) -> None:
    no_tenant = cli("schema", "add", "nobody", _file(tmp_path, acme_schema()))
    cli.ok("tenant", "create", "acme")
    no_schema = cli("schema", "show", "acme", ACME)
    no_removal = cli("schema", "remove", "acme", ACME)

    assert no_tenant.exit_code == 1 and "nobody" in no_tenant.stderr
    assert no_schema.exit_code == 1 and f"No extension schema {ACME} is declared" in no_schema.stderr
    assert no_removal.exit_code == 1 and "(declared: none)" in no_removal.stderr


async def test_removing_a_declaration_keeps_the_stored_values(
    cli: Cli, tmp_path: Path, settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    cli.ok("schema", "add", "acme", _file(tmp_path, acme_schema()))
    body = {"schemas": [USER, ACME], "userName": "kept", ACME: {"costCenter": "42", "badge": 1}}
    created = (await acme.client.post("/Users", json=body)).json()

    cli.ok("schema", "remove", "acme", ACME)
    async with client_for(app_with(settings, store), acme.token) as fresh:  # a fresh tenant config cache
        after_removal = await get_ok(fresh, f"/Users/{created['id']}")
        patched = await fresh.patch(
            f"/Users/{created['id']}",
            json={
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "K"}],
            },
        )
    cli.ok("schema", "add", "acme", _file(tmp_path, acme_schema()))
    async with client_for(app_with(settings, store), acme.token) as again:
        redeclared = await get_ok(again, "/Users", params={"filter": f"{ACME}:badge eq 1"})

    assert after_removal[ACME] == {"costCenter": "42", "badge": 1}
    assert patched.status_code == 200 and patched.json()[ACME] == {"costCenter": "42", "badge": 1}
    assert [r["id"] for r in redeclared["Resources"]] == [created["id"]]


async def test_servers_see_a_declaration_within_the_config_cache_time(store: SqlStore, acme: TenantAccess) -> None:
    now = [1000.0]
    cache = TenantConfigCache(store, Policy(), clock=lambda: now[0])
    first = await cache.get(acme.tenant_id)

    await declare(store, acme.tenant_id)
    now[0] += CACHE_SECONDS - 0.5
    cached = await cache.get(acme.tenant_id)
    now[0] += 1
    fresh = await cache.get(acme.tenant_id)
    now[0] += CACHE_SECONDS
    refreshed = await cache.get(acme.tenant_id)

    assert first.registry is cached.registry
    assert first.registry.resource_type("User").extension(ACME) is None
    assert fresh.registry.resource_type("User").extension(ACME) is not None
    assert refreshed.registry is fresh.registry  # built once per set of declarations


# -- admin API ----------------------------------------------------------------------------------


@pytest.fixture
def admin_app(settings: Settings, store: SqlStore) -> object:
    return app_with(settings, store, admin_token=ADMIN_TOKEN)


async def test_admin_api_declares_lists_shows_and_removes(admin_app: object, acme: TenantAccess) -> None:
    async with admin_client(admin_app) as admin:
        created = await admin.post("/tenants/acme/schemas", json={"schema": acme_schema()})
        again = await admin.post("/tenants/acme/schemas", json={"schema": acme_schema()})
        listed = await admin.get("/tenants/acme/schemas")
        shown = await admin.get(f"/tenants/acme/schemas/{ACME}")
        deleted = await admin.delete(f"/tenants/acme/schemas/{ACME}")
        gone = await admin.get(f"/tenants/acme/schemas/{ACME}")

    assert created.status_code == 201 and again.status_code == 200
    assert created.json()["document"]["id"] == ACME and created.json()["resourceType"] == "User"
    assert listed.json()["schemas"] == [
        {
            "id": ACME,
            "resourceType": "User",
            "required": False,
            "attributes": [
                "costCenter",
                "badge",
                "contractor",
                "hireDate",
                "employeeId",
                "tier",
                "internalNote",
                "tags",
                "badges",
            ],
            "indexed": [],
        }
    ]
    assert shown.json() == created.json()
    assert deleted.status_code == 204
    assert gone.status_code == 404 and f"No extension schema {ACME}" in gone.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"schema": "urn:x"}, 'Send {"schema"'),
        ({"schema": acme_schema(), "required": "yes"}, 'Send {"schema"'),
        ({"schema": acme_schema(), "resourceType": "Device"}, "Resource type 'Device' is not one of User, Group"),
        (
            {"schema": {"id": ACME, "attributes": [{"name": "a", "type": "string", "uniqueness": "global"}]}},
            "does not enforce uniqueness",
        ),
    ],
)
async def test_admin_api_refuses_a_bad_declaration_and_changes_nothing(
    admin_app: object, acme: TenantAccess, body: dict[str, Any], detail: str
) -> None:
    async with admin_client(admin_app) as admin:
        response = await admin.post("/tenants/acme/schemas", json=body)
        listed = await admin.get("/tenants/acme/schemas")

    assert response.status_code == 400
    assert detail in response.json()["detail"]
    assert listed.json() == {"schemas": []}


async def test_admin_api_keeps_tenants_apart(admin_app: object, acme: TenantAccess, globex: TenantAccess) -> None:
    async with admin_client(admin_app) as admin:
        await admin.post("/tenants/acme/schemas", json={"schema": acme_schema()})
        other = await admin.get("/tenants/globex/schemas")
        other_one = await admin.get(f"/tenants/globex/schemas/{ACME}")
        other_delete = await admin.delete(f"/tenants/globex/schemas/{ACME}")
        still = await admin.get("/tenants/acme/schemas")

    assert other.json() == {"schemas": []}
    assert other_one.status_code == other_delete.status_code == 404
    assert [s["id"] for s in still.json()["schemas"]] == [ACME]


async def test_admin_api_needs_the_admin_token(admin_app: object, acme: TenantAccess, store: SqlStore) -> None:
    async with admin_client(admin_app, token=acme.token) as scim_token:
        response = await scim_token.post("/tenants/acme/schemas", json={"schema": acme_schema()})

    assert response.status_code == 401
    assert await TenantSchemaStore(store.db).declared(acme.tenant_id) == []


# -- purge --------------------------------------------------------------------------------------


async def test_purge_deletes_undeclared_data_with_events_and_refuses_a_declared_urn(
    cli: Cli, tmp_path: Path, store: SqlStore, acme: TenantAccess
) -> None:
    bodies = [
        {"schemas": [USER, OKTA_EXT], "userName": "a", OKTA_EXT: {"costCenter": "1"}},
        {"schemas": [USER, OKTA_EXT, ACME], "userName": "b", OKTA_EXT: {"costCenter": "2"}, ACME: {"x": "y"}},
        {"schemas": [USER], "userName": "c"},
    ]
    created = [(await acme.client.post("/Users", json=b)).json() for b in bodies]
    cli.ok("schema", "add", "acme", _file(tmp_path, simple_schema(ACME, "x")))
    before = await get_ok(acme.client, f"/Users/{created[1]['id']}")

    refused = cli("schema", "purge", "acme", ACME, "--yes")
    unchanged = await get_ok(acme.client, f"/Users/{created[1]['id']}")
    purged = cli.ok("schema", "purge", "acme", OKTA_EXT, "--yes")
    after = [await get_ok(acme.client, f"/Users/{c['id']}") for c in created]
    events = (await read_feed(EventStore.of(store), acme.tenant_id)).events

    assert refused.exit_code == 1 and "is declared: remove the declaration first" in refused.stderr
    assert unchanged == before
    assert purged == [f"Deleted the data under {OKTA_EXT} from 2 resources of tenant acme."]
    assert [OKTA_EXT in a for a in after] == [False, False, False]
    assert after[1][ACME] == {"x": "y"} and after[1]["meta"]["version"] == 'W/"2"'
    assert after[2]["meta"]["version"] == 'W/"1"'
    assert [e.payload["changes"] for e in events[-2:]] == [
        [{"path": f"{OKTA_EXT}:costCenter", "before": "1", "after": None}],
        [{"path": f"{OKTA_EXT}:costCenter", "before": "2", "after": None}],
    ]
