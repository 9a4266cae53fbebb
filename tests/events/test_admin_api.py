"""The admin API (/admin/v1): its own bearer token, the event feed and its replay, the audit log."""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import TYPE_CHECKING
from typing import Any

import pytest

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.base import AuditEntry
from scimhub.store.base import Tenant
from scimhub.store.sql import SqlStore
from tests.events.support import ADMIN_TOKEN
from tests.events.support import USER
from tests.events.support import admin_client
from tests.events.support import create_group
from tests.events.support import create_user
from tests.events.support import feed
from tests.events.support import patch
from tests.events.support import running
from tests.http.scim_checks import client_for

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

ADMIN_PATHS = ["/tenants/acme/events", "/tenants/acme/audit", "/tenants/acme/webhooks"]


# -- authentication: two separate credentials ------------------------------------------------------
@pytest.mark.parametrize("path", ADMIN_PATHS)
async def test_a_scim_token_is_refused_by_the_admin_api(app: object, acme: TenantAccess, path: str) -> None:
    async with admin_client(app, acme.token) as admin:
        response = await admin.get(path)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {ADMIN_TOKEN}", "Bearer "])
async def test_the_admin_api_needs_the_admin_token(app: object, acme: TenantAccess, header: str | None) -> None:
    async with admin_client(app, None) as admin:
        response = await admin.get("/tenants/acme/events", headers={"Authorization": header} if header else {})

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def test_the_admin_token_is_refused_by_the_scim_api(acme: TenantAccess) -> None:
    response = await acme.client.get("/Users", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})

    assert response.status_code == 401
    assert response.json()["status"] == "401"


async def test_without_an_admin_token_setting_the_admin_api_does_not_exist(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = create_app(dataclasses.replace(settings, admin_token=None), store=store)
    async with admin_client(app) as admin:
        response = await admin.get("/tenants/acme/events")

    assert response.status_code == 404
    assert "SCIMHUB_ADMIN_TOKEN" in response.json()["detail"]


async def test_an_unknown_tenant_is_404(app: object, acme: TenantAccess) -> None:
    async with admin_client(app) as admin:
        response = await admin.get("/tenants/nosuch/events")

    assert response.status_code == 404
    assert response.json() == {"detail": "No tenant named 'nosuch'."}


# -- the feed --------------------------------------------------------------------------------------
async def test_the_feed_replays_from_any_point_with_a_cursor(app: object, acme: TenantAccess) -> None:
    for name in ("alice", "bob", "carol", "dave", "erin"):
        await create_user(acme.client, name)
    everything = await feed(app)

    async with admin_client(app) as admin:
        first = (await admin.get("/tenants/acme/events", params={"limit": 2})).json()
        second = (await admin.get("/tenants/acme/events", params={"after": first["next_after"], "limit": 2})).json()
        from_3 = (await admin.get("/tenants/acme/events", params={"after": 3})).json()
        caught_up = (await admin.get("/tenants/acme/events", params={"after": 5})).json()
        replay = (await admin.get("/tenants/acme/events", params={"after": 0})).json()

    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert first["next_after"] == 2
    assert [e["seq"] for e in second["events"]] == [3, 4]
    assert second["next_after"] == 4
    assert [e["seq"] for e in from_3["events"]] == [4, 5]
    assert caught_up == {"events": [], "next_after": 5}
    assert replay["events"] == everything
    assert [e["resource"]["userName"] for e in everything] == ["alice", "bob", "carol", "dave", "erin"]


async def test_a_feed_event_has_the_documented_shape(app: object, acme: TenantAccess) -> None:
    user_id = await create_user(acme.client, "alice", displayName="Alice")

    (event,) = await feed(app)

    assert set(event) == {
        "id",
        "seq",
        "tenantId",
        "type",
        "rfc9967",
        "resourceType",
        "resourceId",
        "occurredAt",
        "tokenId",
        "changes",
        "resource",
        "user",  # the normalized directory user (scimhub.directory), read with the event
    }
    assert event["type"] == "user.created"
    assert event["resourceId"] == user_id
    assert event["tenantId"] == acme.tenant_id
    assert {"path": "userName", "before": None, "after": "alice"} in event["changes"]


@pytest.mark.parametrize(
    ("params", "status"),
    [({"after": "-1"}, 400), ({"after": "x"}, 400), ({"limit": "0"}, 200), ({"limit": "5000"}, 200)],
)
async def test_feed_parameters_are_checked_and_the_limit_clamped(
    app: object, acme: TenantAccess, params: dict[str, str], status: int
) -> None:
    await create_user(acme.client, "alice")
    async with admin_client(app) as admin:
        response = await admin.get("/tenants/acme/events", params=params)

    assert response.status_code == status, response.text


# -- the audit log ---------------------------------------------------------------------------------
async def test_the_audit_log_records_who_what_when_and_the_result_of_every_write(
    app: object, acme: TenantAccess
) -> None:
    alice = await create_user(acme.client, "alice")
    group = await create_group(acme.client, "Engineering", [alice])
    await patch(acme.client, f"/Users/{alice}", {"op": "replace", "path": "active", "value": False})
    await acme.client.delete(f"/Users/{alice}")
    await acme.client.get(f"/Groups/{group}")  # reads are not audited

    async with admin_client(app) as admin:
        body = (await admin.get("/tenants/acme/audit")).json()
        page = (await admin.get("/tenants/acme/audit", params={"after": body["entries"][1]["id"], "limit": 1})).json()

    entries = body["entries"]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", "/scim/v2/Users", 201),
        ("POST", "/scim/v2/Groups", 201),
        ("PATCH", f"/scim/v2/Users/{alice}", 200),
        ("DELETE", f"/scim/v2/Users/{alice}", 204),
    ]
    assert {e["tokenId"] for e in entries} == {acme.token_id}
    assert all(e["occurredAt"].endswith("Z") for e in entries)
    assert entries[2]["events"] == [
        {"seq": 4, "type": "user.deactivated", "changes": [{"path": "active", "before": None, "after": False}]}
    ]
    assert entries[1]["detail"] == {
        "eventTypes": ["group.created", "group.member_added"],
        "error": None,
        "scimType": None,
        "ignored": [],
    }
    assert entries[1]["events"][1]["members"] == [alice]
    # the user is gone from the SCIM API, its history is not
    assert [e["resourceId"] for e in entries].count(alice) == 3
    assert [e["id"] for e in page["entries"]] == [entries[2]["id"]]
    assert page["next_after"] == entries[2]["id"]


async def test_an_audit_entry_s_detail_has_one_shape_for_every_outcome(
    app: object, acme: TenantAccess, store: SqlStore
) -> None:
    alice = await create_user(acme.client, "alice", title="Engineer")
    refused = await acme.client.post("/Users", json={"schemas": [USER], "userName": "ALICE"})
    same = await acme.client.get(f"/Users/{alice}")
    unchanged = await acme.client.put(f"/Users/{alice}", json=same.json())
    assert (refused.status_code, unchanged.status_code) == (409, 200)
    tenant = await tenants.require_tenant(store, "acme")
    # Rows as releases before the one shape wrote them: a list, an error object, nothing.
    legacy = [["user.updated"], {"error": "Gone.", "scimType": None}, None]
    for detail in legacy:
        await store.append_audit(
            tenant.id, AuditEntry("2026-01-01T00:00:00.000Z", None, "PATCH", "/x", 200, detail=detail)
        )

    async with admin_client(app) as admin:
        entries = (await admin.get("/tenants/acme/audit")).json()["entries"]

    assert [e["detail"] for e in entries] == [
        {"eventTypes": ["user.created"], "error": None, "scimType": None, "ignored": []},
        {"eventTypes": [], "error": refused.json()["detail"], "scimType": "uniqueness", "ignored": []},
        {"eventTypes": [], "error": None, "scimType": None, "ignored": []},
        {"eventTypes": ["user.updated"], "error": None, "scimType": None, "ignored": []},
        {"eventTypes": [], "error": "Gone.", "scimType": None, "ignored": []},
        {"eventTypes": [], "error": None, "scimType": None, "ignored": []},
    ]
    assert [e["status"] for e in entries[:3]] == [201, 409, 200]


async def test_audit_entries_are_per_tenant(app: object, acme: TenantAccess, globex: TenantAccess) -> None:
    await create_user(acme.client, "alice")

    async with admin_client(app) as admin:
        response = await admin.get("/tenants/globex/audit")

    assert response.json() == {"entries": [], "next_after": 0}


async def test_webhooks_are_managed_through_the_admin_api(
    app: object, acme: TenantAccess, globex: TenantAccess
) -> None:
    async with admin_client(app) as admin:
        created = await admin.post("/tenants/acme/webhooks", json={"url": "https://app.example.com/scim-events"})
        bad = await admin.post("/tenants/acme/webhooks", json={"url": "ftp://example.com"})
        listed = (await admin.get("/tenants/acme/webhooks")).json()
        other_tenant = await admin.get(f"/tenants/globex/webhooks/{created.json()['id']}")
        removed = await admin.delete(f"/tenants/acme/webhooks/{created.json()['id']}")
        after = (await admin.get("/tenants/acme/webhooks")).json()

    assert created.status_code == 201
    body: dict[str, Any] = created.json()
    assert body["secret"].startswith("whsec_")
    assert bad.status_code == 400
    assert listed == {"webhooks": [{k: v for k, v in body.items() if k != "secret"}]}
    assert "secret" not in str(listed)
    assert other_tenant.status_code == 404
    assert removed.status_code == 204
    assert after == {"webhooks": []}


# -- tenant names ----------------------------------------------------------------------------------
async def test_a_tenant_named_before_the_name_rule_is_addressable_once_renamed(
    app: object, store: SqlStore, acme: TenantAccess
) -> None:
    # A name `scimhub tenant create` accepted before names had to be slugs: a '/' splits the path.
    legacy = Tenant(str(uuid.uuid4()), "Bad Name/x", "2026-01-01T00:00:00+00:00")
    await store.create_tenant(legacy)
    _, token = await tenants.issue_token(store, legacy, None)
    async with client_for(app, token) as scim:
        user = await create_user(scim, "alice")

        async with admin_client(app) as admin:
            before = await admin.get("/tenants/Bad%20Name%2Fx/events")
            renamed = await tenants.rename_tenant(store, "Bad Name/x", "bad-name-x")
            after = await admin.get("/tenants/bad-name-x/events")
        users = await scim.get("/Users")

    assert before.status_code == 404
    assert renamed == Tenant(legacy.id, "bad-name-x", legacy.created_at)  # only the name changed
    assert after.status_code == 200
    assert [(e["type"], e["resourceId"], e["tenantId"]) for e in after.json()["events"]] == [
        ("user.created", user, legacy.id)
    ]
    assert users.status_code == 200  # its token still works
    assert [u["id"] for u in users.json()["Resources"]] == [user]


# -- start-up ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("admin_token", "line"),
    [
        (ADMIN_TOKEN, "admin API on at /admin/v1 (SCIMHUB_ADMIN_TOKEN is set)"),
        (None, "admin API off: set SCIMHUB_ADMIN_TOKEN to enable /admin/v1"),
    ],
)
async def test_start_up_logs_whether_the_admin_api_is_on(
    settings: Settings, store: SqlStore, caplog: pytest.LogCaptureFixture, admin_token: str | None, line: str
) -> None:
    app = create_app(dataclasses.replace(settings, admin_token=admin_token, worker_enabled=False), store=store)

    with caplog.at_level(logging.INFO, logger="scimhub"):
        async with running(app):
            pass

    assert [r.getMessage() for r in caplog.records if r.name == "scimhub" and r.levelno == logging.INFO] == [line]
