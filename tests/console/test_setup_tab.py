"""The console's Setup tab: make a link (URL shown once), see it listed, revoke it."""

from __future__ import annotations

import re

import pytest

from scimhub.store.setup_links_sql import SetupLinkStore
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import Console

pytestmark = pytest.mark.anyio
_URL = re.compile(r'id="setup-url"[^>]*value="(http://testserver/setup/[A-Za-z0-9_-]{43})"')


async def test_the_setup_tab_creates_a_link_shown_once_and_revokes_it(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    tab = await console.client.get("/console/t/acme/setup")
    assert tab.status_code == 200 and "No setup links yet." in tab.text
    created = await console.post("/console/t/acme/setup/links", days="3")
    assert created.status_code == 200
    assert created.headers["cache-control"] == "no-store"
    found = _URL.search(created.text)
    assert found is not None
    url = found.group(1)
    page = await console.client.get(url.removeprefix("http://testserver"))
    assert page.status_code == 200 and "Connect your identity provider" in page.text
    again = await console.client.get("/console/t/acme/setup")
    assert url not in again.text and "active" in again.text
    (link,) = await SetupLinkStore(store.db).list(tenant.tenant_id)
    revoked = await console.post(f"/console/t/acme/setup/links/{link.id}/revoke")
    assert revoked.status_code == 303
    assert "Setup link revoked" in (await console.client.get(revoked.headers["location"])).text
    assert (await console.client.get(url.removeprefix("http://testserver"))).status_code == 410


async def test_the_setup_tab_refuses_a_form_without_csrf_or_bad_days(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    no_csrf = await console.client.post("/console/t/acme/setup/links", data={"days": "3"})
    assert no_csrf.status_code == 403
    for days in ("0", "91", "x", ""):
        bad = await console.post("/console/t/acme/setup/links", days=days)
        assert bad.status_code == 400, days
        assert "1 to 90 days" in bad.text
    unknown = await console.post("/console/t/acme/setup/links/nope/revoke")
    assert unknown.status_code == 404
    assert await SetupLinkStore(store.db).list(tenant.tenant_id) == []
