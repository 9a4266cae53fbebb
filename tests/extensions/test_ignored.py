"""Nothing is dropped silently: every unknown attribute a write ignores (policy.ignore_unknown_attributes)
is listed in that request's request-log entry and its audit entry."""

from __future__ import annotations

import pytest

from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.conftest import TenantAccess
from tests.extensions.support import ACME
from tests.extensions.support import declare
from tests.http.scim_checks import ENTERPRISE
from tests.http.scim_checks import USER
from tests.http.scim_checks import client_for
from tests.http.scim_checks import patch_body
from tests.ops.support import admin_client
from tests.ops.support import ops_app
from tests.ops.support import request_log

pytestmark = pytest.mark.anyio


async def test_ignored_attributes_are_listed_in_the_request_log_and_the_audit_log(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await declare(store, acme.tenant_id)
    app = ops_app(settings, store)
    body = {
        "schemas": [USER, ACME],
        "userName": "x",
        "favouriteColour": "blue",  # Entra's tutorial create: attributes outside any schema
        "name": {"givenName": "X", "nickname": "x"},  # an unknown sub-attribute
        ENTERPRISE: {"department": "Ops", "shoeSize": 44},
        ACME: {"costCenter": "42", "typo": 1},
    }
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", json=body)
        url = f"/Users/{created.json()['id']}"
        patched = await client.patch(url, json=patch_body({"op": "replace", "value": {"title": "Boss", "nope": 1}}))
        put = await client.put(url, json={"schemas": [USER], "userName": "x", "alsoUnknown": True})
        clean = await client.patch(url, json=patch_body({"op": "replace", "path": "title", "value": "CEO"}))

    logged = await request_log(app)
    async with admin_client(app) as admin:
        audit = (await admin.get("/tenants/acme/audit")).json()["entries"]

    assert [r.status_code for r in (created, patched, put, clean)] == [201, 200, 200, 200]
    # Attributes an extension does not declare are kept as sent (policy.keep_undeclared_extensions);
    # an unknown top-level name belongs to no extension and is ignored, and listed.
    assert created.json()[ACME] == {"costCenter": "42", "typo": 1}
    assert created.json()[ENTERPRISE] == {"department": "Ops", "shoeSize": 44}
    assert "favouriteColour" not in created.json()
    expected = [[], ["alsoUnknown"], ["nope"], ["favouriteColour", "name.nickname"]]
    assert [e["ignored"] for e in logged] == expected
    assert [e["detail"]["ignored"] for e in reversed(audit)] == expected
    lines = Cli(settings.database_url).ok("requests", "acme")
    assert [line for line in lines if line.startswith("    ignored:")] == [
        "    ignored:  alsoUnknown",
        "    ignored:  nope",
        "    ignored:  favouriteColour, name.nickname",
    ]


async def test_a_tenant_that_keeps_no_undeclared_data_gets_unknown_extension_attributes_listed(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    await store.set_tenant_setting(acme.tenant_id, "policy.keep_undeclared_extensions", "off")
    app = ops_app(settings, store)
    body = {"schemas": [USER], "userName": "y", ENTERPRISE: {"shoeSize": 44}, "urn:okta:x:1.0:User": {"a": 1}}
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", json=body)

    [logged] = await request_log(app)

    assert created.status_code == 201 and created.json()["schemas"] == [USER]
    assert logged["ignored"] == [f"{ENTERPRISE}:shoeSize", "urn:okta:x:1.0:User"]
