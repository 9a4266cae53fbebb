"""Setup links made, listed and revoked: CLI (`scimhub tenant setup-link`), admin API
(/admin/v1/tenants/{tenant}/setup-links) and what each refuses, changing nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from scimhub.store.setup_links_sql import SetupLinkStore
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli
from tests.events.support import admin_client
from tests.setup.support import browser

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def test_the_cli_prints_a_working_link_once_lists_and_revokes_it(
    app: Any, store: SqlStore, acme: TenantAccess, cli: Cli
) -> None:
    lines = cli.ok("tenant", "setup-link", "acme", "--expires-in", "3", SCIMHUB_PUBLIC_URL="https://id.example.com/")
    url = lines[-1]
    assert url.startswith("https://id.example.com/setup/") and len(url.rsplit("/", 1)[1]) == 43
    assert "can generate up to 3 SCIM tokens" in lines[0]
    (link,) = await SetupLinkStore(store.db).list(acme.tenant_id)
    assert link.id in lines[0]
    async with browser(app) as client:
        assert (await client.get(f"/setup/{url.rsplit('/', 1)[1]}")).status_code == 200
        listed = cli.ok("tenant", "setup-link", "acme", "--list")
        assert listed[0].split("\t") == ["id", "state", "created", "expires", "last_used", "tokens_issued"]
        assert listed[1].split("\t")[:2] == [link.id, "active"]
        assert url not in "\n".join(listed)  # the URL is never shown again
        assert cli.ok("tenant", "setup-link", "acme", "--revoke", link.id)[0].startswith("Revoked setup link")
        assert (await client.get(f"/setup/{url.rsplit('/', 1)[1]}")).status_code == 410
    assert cli.ok("tenant", "setup-link", "acme", "--list")[1].split("\t")[1] == "revoked"


async def test_the_cli_refuses_bad_input_and_makes_no_link(store: SqlStore, acme: TenantAccess, cli: Cli) -> None:
    for args, message in (
        (("--expires-in", "0"), "0 is not in the range 1<=x<=90"),
        (("--expires-in", "91"), "91 is not in the range 1<=x<=90"),
        (("--list", "--revoke", "x"), "Use --list or --revoke, not both."),
        (("--revoke", "no-such-id"), "No active setup link no-such-id in tenant 'acme'"),
    ):
        result = cli("tenant", "setup-link", "acme", *args)
        assert result.exit_code != 0
        assert message in result.output
    result = cli("tenant", "setup-link", "nope")
    assert result.exit_code != 0 and "No tenant named 'nope'" in result.output
    assert await SetupLinkStore(store.db).list(acme.tenant_id) == []


async def test_the_cli_url_defaults_to_host_and_port(cli: Cli, acme: TenantAccess) -> None:
    url = cli.ok("tenant", "setup-link", "acme", SCIMHUB_PORT="9000")[-1]
    assert url.startswith("http://127.0.0.1:9000/setup/")
    url = cli.ok("tenant", "setup-link", "acme", SCIMHUB_BASE_URL="https://x.example/identity/scim/v2")[-1]
    assert url.startswith("https://x.example/identity/setup/")


async def test_the_admin_api_creates_lists_and_revokes_links(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    async with admin_client(app) as admin, browser(app) as client:
        created = await admin.post("/tenants/acme/setup-links", json={"expiresInDays": 2})
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["url"].startswith("http://testserver/setup/")
        assert body["state"] == "active" and body["tokensIssued"] == 0 and body["maxTokens"] == 3
        token = body["url"].rsplit("/", 1)[1]
        assert (await client.get(f"/setup/{token}")).status_code == 200
        listed = (await admin.get("/tenants/acme/setup-links")).json()["setupLinks"]
        assert [link["id"] for link in listed] == [body["id"]]
        assert "url" not in listed[0] and token not in str(listed)
        assert listed[0]["lastUsed"] is not None  # the page was opened
        revoked = await admin.delete(f"/tenants/acme/setup-links/{body['id']}")
        assert revoked.status_code == 204
        again = await admin.delete(f"/tenants/acme/setup-links/{body['id']}")
        assert again.status_code == 404
        assert "No active setup link" in again.json()["detail"]
        assert (await client.get(f"/setup/{token}")).status_code == 410
        listed = (await admin.get("/tenants/acme/setup-links")).json()["setupLinks"]
    assert listed[0]["state"] == "revoked"


async def test_the_admin_api_refuses_bad_input_and_makes_nothing(
    app: Any, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    async with admin_client(app) as admin:
        for body in ({"expiresInDays": 0}, {"expiresInDays": 91}, {"expiresInDays": "7"}, {"expiresInDays": True}):
            response = await admin.post("/tenants/acme/setup-links", json=body)
            assert response.status_code == 400
            assert response.json() == {"detail": "expiresInDays must be an integer from 1 to 90."}
        assert (await admin.post("/tenants/acme/setup-links", content=b"[1]")).status_code == 400
        assert (await admin.post("/tenants/nope/setup-links", json={})).status_code == 404
        other = (await admin.post("/tenants/globex/setup-links", json={})).json()
        cross = await admin.delete(f"/tenants/acme/setup-links/{other['id']}")  # globex's link, through acme
        assert cross.status_code == 404
        assert (await admin.get("/tenants/acme/setup-links")).json() == {"setupLinks": []}
    async with admin_client(app, token=None) as anonymous:
        assert (await anonymous.post("/tenants/acme/setup-links", json={})).status_code == 401
    assert await SetupLinkStore(store.db).list(acme.tenant_id) == []
    (kept,) = await SetupLinkStore(store.db).list(globex.tenant_id)
    assert kept.revoked_at is None


async def test_public_url_sets_the_admin_api_link_host(settings: Any, store: SqlStore) -> None:
    import dataclasses

    from scimhub.app import create_app
    from scimhub.protocol import tenants

    app = create_app(dataclasses.replace(settings, public_url="https://id.example.com"), store=store)
    await tenants.create_tenant(store, "acme")
    async with admin_client(app) as admin:
        body = (await admin.post("/tenants/acme/setup-links", json={})).json()
    assert body["url"].startswith("https://id.example.com/setup/")
