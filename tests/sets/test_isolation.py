"""A tenant's streams carry its own events only; without the sets extra nothing is advertised."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from scimhub import app as app_module
from scimhub.app import create_app
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import make_tenant
from tests.events.support import admin_client
from tests.events.support import create_user
from tests.sets.support import add_stream
from tests.sets.support import poll
from tests.sets.support import public_client

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def test_a_stream_gets_its_own_tenants_events_only(app: object, acme: TenantAccess, globex: TenantAccess) -> None:
    acme_stream = await add_stream(app, poll=True, audience="a")
    globex_stream = await add_stream(app, "globex", poll=True, audience="g")
    await create_user(acme.client, "alice")
    await create_user(acme.client, "bob")
    await create_user(globex.client, "carol")

    acme_sets = (await poll(app, acme_stream, returnImmediately=True)).json()["sets"]
    globex_sets = (await poll(app, globex_stream, returnImmediately=True)).json()["sets"]
    cross = await poll(app, globex_stream, token=acme_stream["token"], returnImmediately=True)
    async with admin_client(app) as admin:
        other_tenant = await admin.get(f"/tenants/globex/streams/{acme_stream['id']}")

    assert sorted(acme_sets) == [f"{acme_stream['id']}.1", f"{acme_stream['id']}.2"]
    assert sorted(globex_sets) == [f"{globex_stream['id']}.1"]
    assert cross.status_code == 401
    assert other_tenant.status_code == 404


async def test_without_joserfc_no_stream_is_served_or_advertised(
    settings: Settings, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app_module.set_keys, "available", lambda: False)
    app = create_app(settings, store=store)
    access = await make_tenant(store, app, "acme")
    async with access.client, admin_client(app) as admin, public_client(app) as public:
        added = await admin.post("/tenants/acme/streams", json={"poll": True, "audience": "a"})
        config = (await access.client.get("/ServiceProviderConfig")).json()
        jwks = await public.get(f"/sets/v1/tenants/{access.tenant_id}/jwks.json")

    assert "securityEvents" not in config
    assert added.status_code == 404
    assert "pip install 'scimhub[sets]'" in added.json()["detail"]
    assert jwks.status_code == 404
