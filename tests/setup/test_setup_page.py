"""The setup page through the real ASGI app: the page, Generate token (CSRF, the per-link limit),
the connection check, and every refused link (unknown, expired, revoked) changing nothing."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import httpx2
import pytest

from scimhub.protocol.setup_links import MAX_TOKENS_PER_LINK
from scimhub.store.setup_links_sql import SetupLinkStore
from scimhub.store.sql import SqlStore
from tests.conftest import SCIM
from tests.events.support import running
from tests.setup.support import browser
from tests.setup.support import csrf_of
from tests.setup.support import generate
from tests.setup.support import make_link
from tests.setup.support import token_of
from tests.setup.support import tokens_of

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
OKTA = "Okta SCIM Client 1.0.0"


async def test_the_page_shows_the_tenant_the_idps_and_the_base_url(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        response = await client.get(f"/setup/{link}?idp=okta")
    assert response.status_code == 200
    html = response.text
    assert "acme" in html
    for name in ("Okta", "Microsoft Entra ID", "OneLogin", "JumpCloud", "Ping Identity", "Other SCIM client"):
        assert name in html
    assert "SCIM connector base URL" in html
    assert "Unique identifier field for users" in html
    assert "HTTP Header" in html
    assert f'<code id="field-1">{SCIM}</code>' in html
    assert "Waiting for the first request from your identity provider" in html
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in html and "style=" not in html  # nothing inline


async def test_entra_guide_names_tenant_url_and_secret_token(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        html = (await client.get(f"/setup/{link}?idp=entra")).text
    assert "Tenant URL" in html and "Secret Token" in html and "Automatic" in html


async def test_generate_token_issues_one_working_scim_token_shown_once(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    before = await tokens_of(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}?idp=okta")
        response = await generate(client, link, csrf_of(page.text), idp="okta")
        assert response.status_code == 200
        token = token_of(response.text)
        assert "A new token replaces nothing" in response.text
        assert "revoke" in response.text
        again = await client.get(f"/setup/{link}?idp=okta")
    assert token not in again.text  # shown once
    assert len(await tokens_of(store)) == len(before) + 1
    scim = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url=SCIM, headers={"Authorization": f"Bearer {token}"}
    )
    async with scim:
        created = await scim.post("/Users", json={"schemas": [USER], "userName": "new@example.com"})
    assert created.status_code == 201, created.text


async def test_generate_without_the_csrf_token_is_refused_and_issues_nothing(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    before = await tokens_of(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}")
        csrf = csrf_of(page.text)
        missing = await client.post(f"/setup/{link}/token", data={})
        forged = await generate(client, link, "0" * 64)
        client.cookies.clear()  # another site's form: no nonce cookie (SameSite=Strict)
        cross_site = await generate(client, link, csrf)
    for response in (missing, forged, cross_site):
        assert response.status_code == 403
        assert "no token was generated" in response.text
        assert "scimhub_" not in response.text
    assert len(await tokens_of(store)) == len(before)
    links = await SetupLinkStore(store.db).list(acme.tenant_id)
    assert links[0].tokens_issued == 0


async def test_a_csrf_token_of_another_link_is_refused(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    first, second = await make_link(store), await make_link(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{first}")
        nonce = client.cookies.get("scimhub_setup_nonce")
        assert nonce is not None
        client.cookies.set("scimhub_setup_nonce", nonce, path=f"/setup/{second}")
        response = await generate(client, second, csrf_of(page.text))
    assert response.status_code == 403


async def test_resubmitting_the_form_issues_no_second_token(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}")
        csrf = csrf_of(page.text)
        assert (await generate(client, link, csrf)).status_code == 200
        resent = await generate(client, link, csrf)  # reload of the POST: the nonce has changed
    assert resent.status_code == 403
    assert len(await tokens_of(store)) == 2  # acme's fixture token and the one generated


async def test_a_link_generates_at_most_its_limit_of_tokens(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        for _ in range(MAX_TOKENS_PER_LINK):
            html = (await client.get(f"/setup/{link}")).text
            response = await generate(client, link, csrf_of(html))
            assert response.status_code == 200
        assert f"This link can generate 0 more tokens (at most {MAX_TOKENS_PER_LINK})" in response.text
        page = await client.get(f"/setup/{link}")
        assert "disabled" in page.text
        refused = await generate(client, link, csrf_of(page.text))
    assert refused.status_code == 429
    assert "already generated its 3 tokens" in refused.text
    assert len(await tokens_of(store)) == 1 + MAX_TOKENS_PER_LINK


@pytest.mark.parametrize("path", ["", "/status"])
async def test_an_unknown_link_is_a_plain_404(app: Any, store: SqlStore, acme: TenantAccess, path: str) -> None:
    async with browser(app) as client:
        for link in ("x" * 43, "nope", "a" * 300):
            response = await client.get(f"/setup/{link}{path}")
            assert response.status_code == 404, link
            assert "acme" not in response.text


async def test_an_expired_link_is_refused_and_changes_nothing(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store, days=1, now=datetime.now(UTC) - timedelta(days=2))
    before = await tokens_of(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}")
        posted = await client.post(f"/setup/{link}/token", data={"csrf": "0" * 64})
        polled = await client.get(f"/setup/{link}/status")
    assert page.status_code == 410 and "expired" in page.text
    assert posted.status_code == 410 and polled.status_code == 410
    assert polled.json() == {"detail": "This setup link is not valid."}
    assert "acme" not in page.text
    assert len(await tokens_of(store)) == len(before)
    (row,) = await SetupLinkStore(store.db).list(acme.tenant_id)
    assert row.last_used_at is None and row.tokens_issued == 0


async def test_a_revoked_link_is_refused_even_with_a_valid_form(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}")
        (row,) = await SetupLinkStore(store.db).list(acme.tenant_id)
        assert await SetupLinkStore(store.db).revoke(acme.tenant_id, row.id, "2026-01-01T00:00:00.000Z")
        posted = await generate(client, link, csrf_of(page.text))
        again = await client.get(f"/setup/{link}")
    assert posted.status_code == 410 and again.status_code == 410
    assert "revoked" in again.text
    assert len(await tokens_of(store)) == 1


async def test_the_connection_check_waits_then_shows_okta_connected_with_counts(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    async with running(app), browser(app) as client:
        waiting = (await client.get(f"/setup/{link}/status")).json()
        assert waiting == {
            "connected": False,
            "lastRequest": None,
            "idp": None,
            "userAgent": None,
            "users": 0,
            "groups": 0,
            "failures": [],
        }
        okta = {"Authorization": f"Bearer {acme.token}", "User-Agent": OKTA}
        for name in ("a@example.com", "b@example.com"):
            created = await acme.client.post("/Users", json={"schemas": [USER], "userName": name}, headers=okta)
            assert created.status_code == 201
        group = await acme.client.post("/Groups", json={"schemas": [GROUP], "displayName": "Staff"}, headers=okta)
        assert group.status_code == 201
        state = (await client.get(f"/setup/{link}/status")).json()
        page = await client.get(f"/setup/{link}")
    assert state["connected"] is True
    assert state["idp"] == "Okta" and state["userAgent"] == OKTA
    assert (state["users"], state["groups"]) == (2, 1)
    assert state["failures"] == []
    assert "Connected" in page.text and "to Okta" in page.text


async def test_failed_requests_are_listed_with_plain_language_hints(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    async with running(app), browser(app) as client:
        await acme.client.post("/Users", json={"schemas": [USER], "userName": "dup@example.com"})
        duplicate = await acme.client.post("/Users", json={"schemas": [USER], "userName": "dup@example.com"})
        wrong_path = await acme.client.get("/Userz")
        bad_value = await acme.client.post("/Users", json={"schemas": [USER], "userName": "x", "active": "maybe"})
        assert (duplicate.status_code, wrong_path.status_code, bad_value.status_code) == (409, 404, 400)
        state = (await client.get(f"/setup/{link}/status")).json()
        page = await client.get(f"/setup/{link}")
    hints = {f["status"]: f["hint"] for f in state["failures"]}
    assert set(hints) == {409, 404, 400}
    assert "userName" in hints[409] and "unique" in hints[409]
    assert "/scim/v2" in hints[404]
    assert "attribute mappings" in hints[400]
    assert "Failed requests" in page.text and hints[404] in page.text


async def test_traffic_before_the_link_was_made_does_not_count_as_connected(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    async with running(app), browser(app) as client:
        earlier = await make_link(store)
        assert (await acme.client.get("/Users")).status_code == 200
        # The earlier link's status read writes the traffic counters: connected, as the request came after it.
        assert (await client.get(f"/setup/{earlier}/status")).json()["connected"] is True
        link = await make_link(store, now=datetime.now(UTC) + timedelta(seconds=1))
        state = (await client.get(f"/setup/{link}/status")).json()
    assert state["connected"] is False


async def test_an_oversized_or_garbled_form_is_refused_and_issues_nothing(
    app: Any, store: SqlStore, acme: TenantAccess
) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        csrf = csrf_of((await client.get(f"/setup/{link}")).text)
        huge = await client.post(f"/setup/{link}/token", data={"csrf": csrf, "pad": "x" * 5000})
        garbled = await client.post(f"/setup/{link}/token", content=b"\xff\xfe", headers={"content-type": "text/plain"})
        many = await client.post(f"/setup/{link}/token", data={"csrf": csrf, **{f"f{i}": "x" for i in range(20)}})
    assert huge.status_code == 403 and garbled.status_code == 403 and many.status_code == 403
    assert "no token was generated" in huge.text
    assert len(await tokens_of(store)) == 1


async def test_an_unknown_idp_shows_the_choice_and_the_base_url(app: Any, store: SqlStore, acme: TenantAccess) -> None:
    link = await make_link(store)
    async with browser(app) as client:
        page = await client.get(f"/setup/{link}?idp=<script>")
    assert page.status_code == 200
    assert "Choose your identity provider in step 1" in page.text
    assert f'<code id="base-url">{SCIM}</code>' in page.text
    assert "<script>" not in page.text.replace('<script src="/setup/static/setup.js"></script>', "")


async def test_mounted_under_a_prefix_every_url_of_the_page_carries_it(settings: Any, store: SqlStore) -> None:
    from starlette.applications import Starlette
    from starlette.routing import Mount

    from scimhub.app import create_app
    from scimhub.protocol import tenants

    scim_app = create_app(settings, store=store)
    host = Starlette(routes=[Mount("/identity", app=scim_app)], lifespan=scim_app.router.lifespan_context)
    await tenants.create_tenant(store, "acme")
    link = await make_link(store)
    transport = httpx2.ASGITransport(app=host)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url="http://host.example") as client:
        page = await client.get(f"/identity/setup/{link}?idp=entra")
        assert page.status_code == 200
        assert '<code id="field-2">http://host.example/identity/scim/v2</code>' in page.text
        assert f'action="/identity/setup/{link}/token"' in page.text
        assert 'href="/identity/setup/static/setup.css"' in page.text
        assert f'data-status-url="/identity/setup/{link}/status"' in page.text
        assert page.cookies.get("scimhub_setup_nonce") is not None
        css = await client.get("/identity/setup/static/setup.css")
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        form = {"csrf": csrf_of(page.text), "idp": "entra"}
        generated = await client.post(f"/identity/setup/{link}/token", data=form)
        # the nonce cookie is scoped to the mounted path, so the browser sends it back
        assert generated.status_code == 200 and token_of(generated.text).startswith("scimhub_")
