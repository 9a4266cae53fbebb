"""The setup page in a real browser (Debian's chromium) against the live server: a setup link made
with the console's button, walked to "Connected" while the SCIM API is provisioned with the token
the page generated; expired and revoked links refused; no secret in any URL.

Screenshots of the setup page: ``python -m tests.browser.screenshots`` (tests/browser/setup_screenshots.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import httpx2
import pytest
from playwright.sync_api import Page
from playwright.sync_api import Request
from playwright.sync_api import expect

from scimhub.protocol.setup_links import SetupLinks
from scimhub.store.factory import open_store
from tests.browser.conftest import LiveServer
from tests.browser.conftest import sign_in

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
OKTA = "Okta SCIM Client 1.0.0"


@pytest.fixture
def urls(page: Page) -> Iterator[list[str]]:
    """Every URL the page requests (navigations, scripts, fetches, form posts)."""
    seen: list[str] = []

    def record(request: Request) -> None:
        seen.append(request.url)

    page.on("request", record)
    yield seen


def create_tenant(page: Page, server: LiveServer, name: str) -> None:
    page.goto(f"{server.console}/")
    page.get_by_label("Tenant name").fill(name)
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("status")).to_have_text("Tenant created.")


def create_setup_link(page: Page, server: LiveServer, tenant: str) -> str:
    """The console's Setup tab: Create setup link, and the URL it shows once."""
    page.goto(f"{server.console}/t/{tenant}/setup")
    page.get_by_role("button", name="Create setup link").click()
    url = page.get_by_label("Setup link").input_value()
    assert url.startswith(f"{server.url}/setup/")
    return url


def scim(server: LiveServer, token: str) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}", "User-Agent": OKTA}
    return httpx2.Client(base_url=server.scim, headers=headers, timeout=10)


def admin(server: LiveServer) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {server.admin_token}"}
    return httpx2.Client(base_url=f"{server.url}/admin/v1", headers=headers, timeout=10)


def test_a_setup_link_walks_the_idp_admin_to_connected(page: Page, live_server: LiveServer, urls: list[str]) -> None:
    sign_in(page, live_server)
    create_tenant(page, live_server, "walk-co")
    link = create_setup_link(page, live_server, "walk-co")
    page.context.clear_cookies()  # the IdP admin has no console session: the link is all they have

    page.goto(link)
    expect(page.get_by_role("heading", name="Connect your identity provider")).to_be_visible()
    expect(page.locator("#check-title")).to_have_text("Waiting for the first request from your identity provider")
    page.get_by_role("link", name="Okta", exact=True).click()
    expect(page.get_by_role("rowheader", name="SCIM connector base URL")).to_be_visible()
    expect(page.locator("table.fields")).to_contain_text("userName")
    expect(page.locator("table.fields")).to_contain_text(f"{live_server.url}/scim/v2")

    page.get_by_role("button", name="Generate token").click()
    token = page.get_by_label("Token").input_value()
    assert token.startswith("scimhub_")
    expect(page.get_by_text("A new token replaces nothing")).to_be_visible()
    expect(page.locator("#check-title")).to_have_text("Waiting for the first request from your identity provider")

    with scim(live_server, token) as client:  # the IdP, while the page waits
        assert client.get("/Users", params={"filter": 'userName eq "ada@example.com"'}).status_code == 200
        for name in ("ada@example.com", "grace@example.com"):
            assert client.post("/Users", json={"schemas": [USER], "userName": name}).status_code == 201
        assert client.post("/Groups", json={"schemas": [GROUP], "displayName": "Engineering"}).status_code == 201
        assert client.get("/Userz").status_code == 404  # a wrong base URL path, listed with its hint

    expect(page.locator("#check-title")).to_have_text("Connected", timeout=15_000)
    expect(page.locator("#check-idp")).to_have_text("to Okta")
    expect(page.locator("#check-users")).to_have_text("2")
    expect(page.locator("#check-groups")).to_have_text("1")
    expect(page.locator("#check-failures")).to_contain_text("the base URL must end in /scim/v2")

    for url in urls:
        assert token not in url and live_server.admin_token not in url
    assert any(url.endswith("/token") for url in urls)  # the form posted; the token came in its body


def test_the_page_works_without_javascript(browser: object, live_server: LiveServer) -> None:
    from playwright.sync_api import Browser

    assert isinstance(browser, Browser)
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 860})
    try:
        page = context.new_page()
        sign_in(page, live_server)
        create_tenant(page, live_server, "nojs-co")
        link = create_setup_link(page, live_server, "nojs-co")
        page.goto(f"{link}?idp=entra")
        expect(page.get_by_role("rowheader", name="Tenant URL")).to_be_visible()
        page.get_by_role("button", name="Generate token").click()
        token = page.get_by_label("Token").input_value()
        with scim(live_server, token) as client:
            assert client.post("/Users", json={"schemas": [USER], "userName": "x@example.com"}).status_code == 201
        page.get_by_role("link", name="Check again").click()
        expect(page.locator("#check-title")).to_have_text("Connected", timeout=10_000)
        assert token not in page.content()  # the reloaded page does not show it again
    finally:
        context.close()


def test_a_revoked_link_is_refused(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    create_tenant(page, live_server, "revoke-co")
    with admin(live_server) as client:
        created = client.post("/tenants/revoke-co/setup-links", json={"expiresInDays": 1}).json()
        page.goto(created["url"])
        expect(page.get_by_role("button", name="Generate token")).to_be_visible()
        assert client.delete(f"/tenants/revoke-co/setup-links/{created['id']}").status_code == 204
    page.get_by_role("button", name="Generate token").click()  # the form of the page opened before
    expect(page.get_by_role("heading", name="Link no longer valid")).to_be_visible()
    expect(page.get_by_text("This setup link was revoked.")).to_be_visible()
    response = page.goto(created["url"])
    assert response is not None and response.status == 410
    with admin(live_server) as client:
        (listed,) = client.get("/tenants/revoke-co/setup-links").json()["setupLinks"]
    assert listed["tokensIssued"] == 0


def test_an_expired_or_unknown_link_is_refused(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    create_tenant(page, live_server, "expired-co")
    token = _expired_link(live_server, "expired-co")
    response = page.goto(f"{live_server.url}/setup/{token}")
    assert response is not None and response.status == 410
    expect(page.get_by_text("This setup link has expired.")).to_be_visible()
    assert "expired-co" not in page.content()
    response = page.goto(f"{live_server.url}/setup/{'A' * 43}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Link not found")).to_be_visible()


def _expired_link(server: LiveServer, tenant: str) -> str:
    """A link that expired yesterday, made on the live server's database (in a thread of its own:
    Playwright's loop runs in this one)."""

    async def make() -> str:
        store = open_store(server.settings)
        await store.open()
        try:
            found = await store.tenant_by_name(tenant)
            assert found is not None
            _link, token = await SetupLinks(store).create(found, 1, now=datetime.now(UTC) - timedelta(days=2))
            return token
        finally:
            await store.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, make()).result()
