"""The Settings tab's Roles and Attribute mapping sections: listing, the forms (the same operations
and error texts as the CLI and the admin API), CSRF, and that a refused form changes nothing."""

from __future__ import annotations

import dataclasses

import httpx2
import pytest
from markupsafe import escape
from starlette.applications import Starlette

from scimhub.directory.attributes import AttributeMap
from scimhub.protocol import attribute_map
from scimhub.protocol.roles import RoleOverview
from scimhub.protocol.roles import RoleService
from scimhub.settings import Settings
from scimhub.store.attributes_sql import AttributeStore
from scimhub.store.roles_sql import RoleStore
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import BASE
from tests.console.conftest import Console
from tests.roles.support import roles_of
from tests.roles.support import settle

pytestmark = pytest.mark.anyio
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SETTINGS = "/console/t/acme/settings"
RULES = "/console/t/acme/roles/rules"
INTEGER = "priority must be an integer, got 'high'."
ROLE_NAME = "A role name is 1 to 200 printable characters; got ''."
VALUE = "A rule names a group or role value of 1 to 1024 characters."


@pytest.fixture
def console_settings(console_settings: Settings) -> Settings:
    """No recompute runner in the app: the tests run a recompute's batches themselves (``settle``),
    so what the page shows of one running is known."""
    return dataclasses.replace(console_settings, worker_enabled=False)


async def submit(console: Console, url: str, **fields: str) -> httpx2.Response:
    """A console form (its CSRF token in it); fields may be named ``path``, unlike ``Console.post``."""
    return await console.client.post(url, data={"csrf": console.csrf, **fields})


async def boss_rule(console: Console) -> None:
    """A rule giving ``boss`` to group ``Admins`` (the one a duplicate would repeat)."""
    response = await submit(console, RULES, role="boss", kind="group", value="Admins")
    assert response.status_code == 303, response.text


async def overview(store: SqlStore, tenant: TenantAccess) -> RoleOverview:
    return await RoleService(store, RoleStore(store.db)).overview(tenant.tenant_id)


async def mapping(store: SqlStore, tenant: TenantAccess) -> AttributeMap:
    return await attribute_map.tenant_mapping(AttributeStore(store.db), TenantSchemaStore(store.db), tenant.tenant_id)


def refused(response: httpx2.Response, status: int, message: str) -> None:
    """The Settings tab again, with the error the CLI and the admin API give."""
    assert response.status_code == status, response.text
    assert '<p class="error" role="alert">' in response.text
    assert str(escape(message)) in response.text, message


async def test_rules_are_added_listed_and_removed_and_roles_follow(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    user = await tenant.client.post("/Users", json={"schemas": [USER], "userName": "ann@example.com"})
    user_id = user.json()["id"]
    group = {"schemas": [GROUP], "displayName": "Admins", "externalId": "okta-77", "members": [{"value": user_id}]}
    assert (await tenant.client.post("/Groups", json=group)).status_code == 201
    empty = await console.client.get(SETTINGS)
    assert "No rules: nobody gets a role." in empty.text and "none yet" in empty.text
    added = await submit(
        console, "/console/t/acme/roles/rules", role="admin", kind="group_external_id", value="okta-77"
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"{SETTINGS}?done=role-mapped"
    (rule,) = (await overview(store, tenant)).rules
    assert (rule.role, rule.kind.value, rule.value, rule.priority) == ("admin", "group_external_id", "okta-77", 0)
    page = await console.client.get(added.headers["location"])
    assert "Role rule added" in page.text
    assert '<td class="mono">okta-77</td>' in page.text and "group externalId" in page.text
    assert f'name="rule" value="{rule.id}"' in page.text
    # The change only started the recompute (the request did not run it); the page says how far it is.
    job = (await overview(store, tenant)).recompute
    assert job is not None and job.finished_at is None and job.done == 0
    assert '<span class="badge warn">running</span>' in page.text and "0 users so far, 0 changed" in page.text
    await settle(store, tenant.tenant_id)
    assert await roles_of(store, tenant.tenant_id, user_id) == {user_id: ["admin"]}
    finished = await console.client.get(SETTINGS)
    assert '<span class="badge ok">finished</span>' in finished.text and "1 users, 1 changed" in finished.text
    removed = await submit(console, "/console/t/acme/roles/rules/remove", rule=rule.id)
    assert removed.status_code == 303 and removed.headers["location"] == f"{SETTINGS}?done=role-unmapped"
    assert (await overview(store, tenant)).rules == []
    await settle(store, tenant.tenant_id)
    assert await roles_of(store, tenant.tenant_id, user_id) == {user_id: []}


async def test_each_rule_kind_and_a_priority_can_be_given(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    for role, kind, value, priority in [
        ("eng", "group", "Engineering", "5"),
        ("ops", "group_id", "4f0c-group-id", "-2"),
        ("viewer", "scim_role", "reader", ""),
    ]:
        response = await submit(
            console, "/console/t/acme/roles/rules", role=role, kind=kind, value=value, priority=priority
        )
        assert response.status_code == 303, response.text
    rules = (await overview(store, tenant)).rules
    assert sorted((r.role, r.kind.value, r.value, r.priority) for r in rules) == [
        ("eng", "group", "Engineering", 5),
        ("ops", "group_id", "4f0c-group-id", -2),
        ("viewer", "scim_role", "reader", 0),
    ]


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        (
            {"role": "admin", "kind": "group", "value": "Admins", "priority": "high"},
            400,
            "priority must be an integer, got 'high'.",
        ),
        (
            {"role": "", "kind": "group", "value": "Admins"},
            400,
            "A role name is 1 to 200 printable characters; got ''.",
        ),
        (
            {"role": "admin", "kind": "group", "value": " "},
            400,
            "A rule names a group or role value of 1 to 1024 characters.",
        ),
        (
            {"role": "admin", "kind": "group", "value": "x" * 1025},
            400,
            "A rule names a group or role value of 1 to 1024 characters.",
        ),
        ({"role": "admin", "kind": "group", "value": "Admins", "priority": "99999999"}, 400, "A priority is between"),
        ({"role": "admin", "kind": "department", "value": "Admins"}, 400, "'department' is not a valid RuleKind"),
        ({"role": "boss", "kind": "group", "value": "admins"}, 400, "already maps group 'Admins' to 'boss'."),
    ],
)
async def test_a_bad_rule_is_refused_with_the_apis_text_and_changes_nothing(
    console: Console, tenant: TenantAccess, store: SqlStore, fields: dict[str, str], status: int, message: str
) -> None:
    assert (
        await submit(console, "/console/t/acme/roles/rules", role="boss", kind="group", value="Admins")
    ).status_code == 303
    before = await overview(store, tenant)
    response = await submit(console, RULES, **fields)
    refused(response, status, message)
    assert await overview(store, tenant) == before


async def test_removing_an_unknown_rule_is_a_404_and_changes_nothing(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    assert (
        await submit(console, "/console/t/acme/roles/rules", role="boss", kind="group", value="Admins")
    ).status_code == 303
    before = await overview(store, tenant)
    response = await submit(console, "/console/t/acme/roles/rules/remove", rule="no-such-rule")
    refused(response, 404, "No such role rule in this tenant (see scimhub role list).")
    assert await overview(store, tenant) == before


async def test_mode_and_default_are_set_and_a_bad_mode_changes_nothing(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    saved = await submit(console, "/console/t/acme/roles/settings", mode="highest", default="viewer")
    assert saved.status_code == 303 and saved.headers["location"] == f"{SETTINGS}?done=roles-configured"
    after = await overview(store, tenant)
    assert (after.mode.value, after.default) == ("highest", "viewer")
    page = await console.client.get(SETTINGS)
    assert '<option value="highest" selected>' in page.text and 'name="default" value="viewer"' in page.text
    for fields, message in [
        ({"mode": "most", "default": "other"}, "role.mode is 'all' or 'highest'; got 'most'."),
        ({"mode": "all", "default": "x" * 201}, "A role name is 1 to 200 printable characters"),
    ]:
        refused(await submit(console, "/console/t/acme/roles/settings", **fields), 400, message)
        assert await overview(store, tenant) == after
    cleared = await submit(console, "/console/t/acme/roles/settings", mode="all", default="")
    assert cleared.status_code == 303
    assert ((await overview(store, tenant)).mode.value, (await overview(store, tenant)).default) == ("all", None)


async def test_attributes_are_listed_mapped_and_unmapped(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    page = await console.client.get(SETTINGS)
    for entry in (await mapping(store, tenant)).listing():
        assert f'<td class="mono">{escape(entry.name)}</td>' in page.text
        assert f'<td class="mono">{escape(entry.path)}' in page.text
    mapped = await submit(console, "/console/t/acme/attributes", name="costCenter", path=f"{ENTERPRISE}:costCenter")
    assert mapped.status_code == 303 and mapped.headers["location"] == f"{SETTINGS}?done=attribute-mapped"
    found = {m.name: (m.path, m.source.value) for m in (await mapping(store, tenant)).entries}
    assert found["costCenter"][1] == "tenant"
    listed = await console.client.get(mapped.headers["location"])
    assert "Attribute mapped" in listed.text and f'<td class="mono">{escape(found["costCenter"][0])}' in listed.text
    unmapped = await submit(console, "/console/t/acme/attributes/unmap", name="costCenter")
    assert unmapped.status_code == 303 and unmapped.headers["location"] == f"{SETTINGS}?done=attribute-unmapped"
    assert "costCenter" not in {m.name for m in (await mapping(store, tenant)).entries}
    default = await submit(console, "/console/t/acme/attributes/unmap", name="jobTitle")
    assert default.status_code == 303
    assert "jobTitle" not in {m.name for m in (await mapping(store, tenant)).entries}


@pytest.mark.parametrize(
    ("url", "fields", "status", "message"),
    [
        ("attributes", {"name": "cost center", "path": "title"}, 400, "'cost center' is not an attribute name"),
        ("attributes", {"name": "roles", "path": "title"}, 400, "'roles' is a field every directory user has"),
        ("attributes", {"name": "costCenter", "path": "costCenter"}, 400, "Unknown User attribute path 'costCenter'"),
        ("attributes", {"name": "pw", "path": "password"}, 400, "is never returned"),
        ("attributes/unmap", {"name": "nothing"}, 404, "'nothing' is not mapped in this tenant"),
        ("attributes/unmap", {"name": "userName"}, 400, "'userName' is a field every directory user has"),
    ],
)
async def test_a_bad_attribute_form_is_refused_with_the_clis_text_and_changes_nothing(
    console: Console, tenant: TenantAccess, store: SqlStore, url: str, fields: dict[str, str], status: int, message: str
) -> None:
    before = await mapping(store, tenant)
    refused(await submit(console, f"/console/t/acme/{url}", **fields), status, message)
    assert await mapping(store, tenant) == before


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("roles/rules", {"role": "admin", "kind": "group", "value": "Admins"}),
        ("roles/rules/remove", {"rule": "RULE"}),
        ("roles/settings", {"mode": "highest", "default": "viewer"}),
        ("attributes", {"name": "costCenter", "path": f"{ENTERPRISE}:costCenter"}),
        ("attributes/unmap", {"name": "email"}),
    ],
)
async def test_every_mapping_form_needs_the_csrf_token(
    console: Console,
    tenant: TenantAccess,
    store: SqlStore,
    console_app: Starlette,
    url: str,
    fields: dict[str, str],
) -> None:
    assert (
        await submit(console, "/console/t/acme/roles/rules", role="boss", kind="group", value="Admins")
    ).status_code == 303
    rule_id = (await overview(store, tenant)).rules[0].id
    fields = {k: v.replace("RULE", rule_id) for k, v in fields.items()}
    roles_before, mapping_before = await overview(store, tenant), await mapping(store, tenant)
    for csrf in ("", "forged-token"):
        response = await console.client.post(f"/console/t/acme/{url}", data={"csrf": csrf, **fields})
        assert response.status_code == 403
        assert "CSRF token does not match" in response.text
    transport = httpx2.ASGITransport(app=console_app)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as anonymous:
        signed_out = await anonymous.post(f"/console/t/acme/{url}", data={"csrf": console.csrf, **fields})
    assert signed_out.status_code == 403
    assert await overview(store, tenant) == roles_before and await mapping(store, tenant) == mapping_before
