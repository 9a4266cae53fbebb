"""The directory tab: SCIM filters, cursor pages, a user's and a group's page."""

from __future__ import annotations

import orjson
import pytest
from markupsafe import escape
from starlette.applications import Starlette

from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import ADMIN_TOKEN
from tests.console.conftest import Console
from tests.events.support import admin_client
from tests.roles.support import settle

pytestmark = pytest.mark.anyio
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


async def _user(tenant: TenantAccess, name: str, **extra: object) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, **extra}
    response = await tenant.client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_filter_finds_matching_users_only(console: Console, tenant: TenantAccess) -> None:
    await _user(tenant, "alice@example.com")
    await _user(tenant, "bob@example.com")
    page = await console.client.get("/console/t/acme/directory", params={"filter": 'userName sw "ali"'})
    assert page.status_code == 200
    assert "alice@example.com" in page.text
    assert "bob@example.com" not in page.text
    assert "1 user match" in page.text


async def test_bad_filter_is_a_friendly_400_on_the_page(console: Console, tenant: TenantAccess) -> None:
    await _user(tenant, "alice@example.com")
    page = await console.client.get("/console/t/acme/directory", params={"filter": 'userName eq "unclosed'})
    assert page.status_code == 400
    assert 'role="alert"' in page.text
    assert "alice@example.com" not in page.text
    assert 'value="userName eq &#34;unclosed"' in page.text  # the filter stays in the box, escaped


async def test_cursor_pages_walk_every_user_once(console: Console, tenant: TenantAccess) -> None:
    names = [f"user{i:03}@example.com" for i in range(120)]
    for name in names:
        await _user(tenant, name)
    seen: list[str] = []
    url: str | None = "/console/t/acme/directory"
    while url is not None:
        page = await console.client.get(url)
        assert page.status_code == 200
        seen += [n for n in names if f">{n}</a>" in page.text]
        found = page.text.split(">Next page</a>")[0].rsplit('href="', 1) if ">Next page</a>" in page.text else None
        url = found[1].split('"')[0].replace("&amp;", "&") if found else None
    assert sorted(seen) == names


async def test_user_page_shows_attributes_groups_and_events(console: Console, tenant: TenantAccess) -> None:
    user_id = await _user(tenant, "carol@example.com", emails=[{"value": "carol@example.com", "primary": True}])
    group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Engineering",
        "members": [{"value": user_id}],
    }
    group_id = (await tenant.client.post("/Groups", json=group)).json()["id"]
    page = await console.client.get(f"/console/t/acme/users/{user_id}")
    assert page.status_code == 200
    assert "carol@example.com" in page.text
    assert f"/console/t/acme/groups/{group_id}" in page.text
    assert "user.created" in page.text
    assert "POST /scim/v2/Users" in page.text
    group_page = await console.client.get(f"/console/t/acme/groups/{group_id}")
    assert group_page.status_code == 200
    assert "Engineering" in group_page.text
    assert f"/console/t/acme/users/{user_id}" in group_page.text


async def test_unknown_user_and_tenant_are_404_pages(console: Console, tenant: TenantAccess) -> None:
    missing = await console.client.get("/console/t/acme/users/no-such-id")
    assert missing.status_code == 404
    assert "No User no-such-id" in missing.text
    nobody = await console.client.get("/console/t/nobody/directory")
    assert nobody.status_code == 404
    assert "No tenant named" in nobody.text


async def test_user_page_shows_roles_from_role_rules_and_the_directory_user(
    console: Console, tenant: TenantAccess, store: SqlStore, console_app: Starlette
) -> None:
    body = {
        "schemas": [USER, ENTERPRISE],
        "userName": "dan@example.com",
        "emails": [{"value": "dan@example.com", "primary": True}],
        ENTERPRISE: {"costCenter": "CC-7"},
    }
    created = await tenant.client.post("/Users", json=body)
    assert created.status_code == 201, created.text
    user_id = created.json()["id"]
    other_id = await _user(tenant, "erin@example.com")
    group = {"schemas": [GROUP], "displayName": "Engineering", "members": [{"value": user_id}]}
    assert (await tenant.client.post("/Groups", json=group)).status_code == 201
    before = await console.client.get(f"/console/t/acme/users/{user_id}")
    assert "No roles." in before.text and '<span class="badge">engineer</span>' not in before.text
    assert (
        await console.post("/console/t/acme/roles/rules", role="engineer", kind="group", value="engineering")
    ).status_code == 303
    assert (await console.post("/console/t/acme/roles/settings", mode="all", default="member")).status_code == 303
    fields = {"csrf": console.csrf, "name": "costCenter", "path": f"{ENTERPRISE}:costCenter"}
    mapped = await console.client.post("/console/t/acme/attributes", data=fields)
    assert mapped.status_code == 303
    await settle(store, tenant.tenant_id)
    page = await console.client.get(f"/console/t/acme/users/{user_id}")
    assert page.status_code == 200
    assert '<span class="badge">engineer</span>' in page.text
    assert '<span class="badge">member</span>' not in page.text  # role.default: for users no rule gives a role
    assert "roles: [] → [&#34;engineer&#34;]" in page.text  # the user.roles_changed event, summed up
    assert "Role mapping is not part of this build." not in page.text
    # The directory user: the same document the directory API answers for this user.
    async with admin_client(console_app, ADMIN_TOKEN) as admin:
        api_user = (await admin.get(f"/tenants/acme/directory/users/{user_id}")).json()
    assert api_user["roles"] == ["engineer"] and api_user["costCenter"] == "CC-7"
    assert escape(orjson.dumps(api_user, option=orjson.OPT_INDENT_2).decode()) in page.text
    assert '<dt class="mono">costCenter</dt><dd>CC-7</dd>' in page.text
    assert '<dt class="mono">email</dt><dd>dan@example.com</dd>' in page.text
    other = await console.client.get(f"/console/t/acme/users/{other_id}")
    assert '<span class="badge">member</span>' in other.text and '<span class="badge">engineer</span>' not in other.text
