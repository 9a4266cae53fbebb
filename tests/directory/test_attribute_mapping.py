"""A tenant's attribute mapping through the admin API and ``scimhub attribute``: the mapped names
in the directory API and in the events' ``user`` (feed, webhooks, in-process hooks), and every
refusal with its error and nothing stored."""

from __future__ import annotations

from typing import Any

import pytest

from scimhub import Event
from scimhub import HookRegistry
from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.directory_sql import EventUsers
from scimhub.store.events_sql import EventStore
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.conftest import make_tenant
from tests.directory.support import admin_ok
from tests.directory.support import grant
from tests.directory.support import mapping_rows
from tests.events.support import Receiver
from tests.events.support import admin_client
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import running
from tests.events.support import wait_until
from tests.events.test_webhook_delivery import add_webhook
from tests.extensions.support import ACME
from tests.extensions.support import declare

pytestmark = pytest.mark.anyio

ATTRIBUTES = "/tenants/acme/attributes"


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings.database_url)


async def put(app: object, name: str, body: Any, tenant: str = "acme") -> Any:
    async with admin_client(app) as admin:
        return await admin.put(f"/tenants/{tenant}/attributes/{name}", json=body)


async def delete(app: object, name: str, tenant: str = "acme") -> Any:
    async with admin_client(app) as admin:
        return await admin.delete(f"/tenants/{tenant}/attributes/{name}")


async def test_the_default_mapping_is_listed_with_its_sources(app: object, acme: TenantAccess) -> None:
    listed = (await admin_ok(app, ATTRIBUTES))["attributes"]

    assert [(a["name"], a["path"], a["source"]) for a in listed] == [
        ("userName", "userName", "core"),
        ("state", "active", "core"),
        ("email", "emails.value", "default"),
        ("firstName", "name.givenName", "default"),
        ("lastName", "name.familyName", "default"),
        ("displayName", "displayName", "default"),
        ("externalId", "externalId", "default"),
        ("jobTitle", "title", "default"),
        ("department", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "default"),
        ("employeeNumber", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "default"),
        ("managerId", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "default"),
    ]
    assert all(a["resolved"] for a in listed)


async def test_mapped_attributes_appear_in_the_directory_api_and_in_events(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    await declare(store, acme.tenant_id)  # acme's costCenter, badge, … (tests/extensions/support.py)
    mapped = await put(app, "team", {"path": f"{ACME.lower()}:BADGES.value"})
    removed = await delete(app, "jobTitle")
    user_id = await create_user(
        acme.client,
        "ada",
        title="CTO",
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ACME],
        **{ACME: {"costCenter": "CC-1", "badges": [{"value": "d7", "type": "door"}]}},
    )
    group = await create_group(acme.client, "Eng", [user_id])
    await grant(store, acme.tenant_id, user_id, "admin")
    await patch(acme.client, f"/Users/{user_id}", {"op": "replace", "path": "active", "value": False})

    directory_user = await admin_ok(app, f"/tenants/acme/directory/users/{user_id}")
    events = [e for e in await feed(app) if e["resourceType"] == "User"]

    assert mapped.status_code == 200 and mapped.json()["path"] == f"{ACME}:badges.value"  # canonical spelling
    assert removed.status_code == 204
    assert (directory_user["costCenter"], directory_user["team"]) == ("CC-1", "d7")
    assert "jobTitle" not in directory_user
    assert [e["type"] for e in events] == ["user.created", "user.deactivated"]
    created, deactivated = (e["user"] for e in events)
    assert (created["costCenter"], created["team"], created["state"]) == ("CC-1", "d7", "active")
    assert deactivated["state"] == "inactive" and "jobTitle" not in deactivated
    # groups and roles are the user's when the event is read (now), the attributes the event's snapshot
    assert deactivated["groups"] == [{"id": group, "displayName": "Eng"}] and deactivated["roles"] == ["admin"]
    assert {k: v for k, v in deactivated.items() if k != "updatedAt"} == {
        k: v for k, v in directory_user.items() if k != "updatedAt"
    }


async def test_unmap_and_map_again_through_the_cli(cli: Cli, app: object, acme: TenantAccess) -> None:
    user_id = await create_user(acme.client, "ada", emails=[{"value": "ada@example.com"}], title="CTO")

    unmapped = cli.ok("attribute", "unmap", "acme", "email")
    without = await admin_ok(app, f"/tenants/acme/directory/users/{user_id}")
    mapped = cli.ok("attribute", "map", "acme", "email", "TITLE")
    remapped = await admin_ok(app, f"/tenants/acme/directory/users/{user_id}")
    listed = cli.ok("attribute", "list", "acme")

    assert unmapped == [
        "Unmapped email (was emails.value) for tenant acme. "
        "Events use the change within 10 seconds; the directory API at once."
    ]
    assert "email" not in without
    assert mapped == [
        "Mapped email to title for tenant acme. Events use the change within 10 seconds; the directory API at once."
    ]
    assert remapped["email"] == "CTO"
    assert listed[:4] == [
        "name\tpath\tsource",
        "userName\tuserName\tcore",
        "state\tactive\tcore",
        "firstName\tname.givenName\tdefault",
    ]
    assert "email\ttitle\ttenant" in listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("map", "acme", "costCenter", "urn:nope:costCenter"), "Unknown User attribute path 'urn:nope:costCenter'"),
        (("map", "acme", "id", "userName"), "'id' is a field every directory user has"),
        (("map", "acme", "bad-name", "title"), "'bad-name' is not an attribute name"),
        (("map", "nope", "x", "title"), "No tenant named 'nope'"),
        (("unmap", "acme", "costCenter"), "'costCenter' is not mapped in this tenant"),
        (("unmap", "acme", "state"), "'state' is a field every directory user has"),
    ],
)
async def test_the_cli_refuses_bad_mappings_and_stores_nothing(
    cli: Cli, store: SqlStore, acme: TenantAccess, args: tuple[str, ...], message: str
) -> None:
    cli.ok("attribute", "map", "acme", "team", "title")
    before = await mapping_rows(store)

    result = cli("attribute", *args)

    assert result.exit_code == 1 and message in result.output
    assert await mapping_rows(store) == before


@pytest.mark.parametrize(
    ("method", "name", "body", "status", "detail"),
    [
        ("PUT", "costCenter", {"path": "costCenter"}, 400, "Unknown User attribute path 'costCenter'"),
        ("PUT", "costCenter", {"path": f"{ACME}:costCenter"}, 400, "declare a custom extension"),
        ("PUT", "pw", {"path": "password"}, 400, "is never returned"),
        ("PUT", "roles", {"path": "title"}, 400, "'roles' is a field every directory user has"),
        ("PUT", "x", {"path": 7}, 400, 'Send {"path"'),
        ("PUT", "x", [1], 400, "must be a JSON object"),
        ("DELETE", "nothing", None, 404, "'nothing' is not mapped"),
        ("DELETE", "userName", None, 400, "'userName' is a field every directory user has"),
        ("PUT", "x", {"path": "title"}, 404, "No tenant named 'nope'"),
        ("DELETE", "email", None, 404, "No tenant named 'nope'"),
    ],
)
async def test_the_admin_api_refuses_bad_mappings_and_stores_nothing(
    app: object,
    store: SqlStore,
    acme: TenantAccess,
    method: str,
    name: str,
    body: Any,
    status: int,
    detail: str,
) -> None:
    assert (await put(app, "team", {"path": "title"})).status_code == 200
    before = await mapping_rows(store)
    listed = await admin_ok(app, ATTRIBUTES)
    tenant = "nope" if "nope" in detail else "acme"

    response = await (put(app, name, body, tenant) if method == "PUT" else delete(app, name, tenant))

    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert await mapping_rows(store) == before
    assert await admin_ok(app, ATTRIBUTES) == listed


async def test_webhooks_and_in_process_hooks_get_the_user(
    settings: Settings, store: SqlStore, receiver: Receiver
) -> None:
    hooks = HookRegistry()
    seen: list[Event] = []

    @hooks.on("user.created", name="collect")
    async def collect(event: Event) -> None:
        seen.append(event)

    app = create_app(settings, store=store, hooks=hooks)
    acme = await make_tenant(store, app, "acme")
    await add_webhook(app, receiver.url)
    async with acme.client, running(app):
        await put(app, "nickname", {"path": "nickName"})
        user_id = await create_user(acme.client, "ada", nickName="Countess")
        await wait_until(lambda: len(receiver.accepted()) == 1 and len(seen) == 1, what="a delivery and a hook call")

    delivered = receiver.accepted()[0].event
    assert delivered["user"]["id"] == user_id and delivered["user"]["nickname"] == "Countess"
    assert seen[0].payload["user"] == delivered["user"]
    assert seen[0].to_json() == delivered


async def test_events_use_a_mapping_change_once_the_cache_expires(store: SqlStore, acme: TenantAccess) -> None:
    await create_user(acme.client, "ada", title="CTO")
    now = [0.0]
    users = EventUsers(store.db, ttl=10.0, clock=lambda: now[0])
    events = EventStore(store.db)
    events.users = users
    cached = (await events.events_after(acme.tenant_id, 0, 10))[0].payload["user"]
    await users.attributes.save(acme.tenant_id, "role", "title", "2026-12-07T00:00:00Z")
    still = (await events.events_after(acme.tenant_id, 0, 10))[0].payload["user"]
    now[0] = 10.5
    fresh = (await events.events_after(acme.tenant_id, 0, 10))[0].payload["user"]

    assert "role" not in cached and "role" not in still
    assert fresh["role"] == "CTO"
