"""The directory tab: SCIM filters, cursor pages, a user's and a group's page."""

from __future__ import annotations

import pytest

from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import Console

pytestmark = pytest.mark.anyio


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


async def test_roles_section_appears_where_the_store_maps_roles(
    console: Console, tenant: TenantAccess, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await _user(tenant, "dan@example.com")
    without = await console.client.get(f"/console/t/acme/users/{user_id}")
    assert "Role mapping is not part of this build." in without.text
    stored = await store.get(tenant.tenant_id, "User", user_id)
    assert stored is not None and stored.pk is not None
    asked: list[tuple[str, list[int]]] = []

    async def roles_of_users(tenant_id: str, user_pks: list[int]) -> dict[int, list[str]]:
        asked.append((tenant_id, list(user_pks)))
        return {pk: ["admin", "billing"] for pk in user_pks}

    monkeypatch.setattr(store, "roles_of_users", roles_of_users, raising=False)
    page = await console.client.get(f"/console/t/acme/users/{user_id}")
    assert asked == [(tenant.tenant_id, [stored.pk])]
    assert '<span class="badge">admin</span>' in page.text and '<span class="badge">billing</span>' in page.text
