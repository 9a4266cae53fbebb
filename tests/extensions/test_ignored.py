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
    assert created.json()[ACME] == {"costCenter": "42"} and "favouriteColour" not in created.json()
    expected = [
        [],
        ["alsoUnknown"],
        ["nope"],
        ["favouriteColour", f"{ENTERPRISE}:shoeSize", f"{ACME}:typo"],
    ]
    assert [sorted(e["ignored"]) for e in logged] == [sorted(names) for names in expected]
    assert [sorted(e["detail"]["ignored"]) for e in reversed(audit)] == [sorted(names) for names in expected]
    lines = Cli(settings.database_url).ok("requests", "acme")
    assert [line for line in lines if line.startswith("    ignored:")] == [
        "    ignored:  alsoUnknown",
        "    ignored:  nope",
        f"    ignored:  favouriteColour, {ENTERPRISE}:shoeSize, {ACME}:typo",
    ]
