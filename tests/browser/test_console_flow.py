"""The operator's path through the console in chromium: sign in, create a tenant, issue a token,
provision users with it over SCIM, find them with a filter, give a group's members a role and see
it on a user's page, see a failed request, watch events arrive live; and the security properties a
browser sees (no page without a session, CSRF refused, no secret in any URL, no CSP violation)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx2
import pytest
from playwright.sync_api import Browser
from playwright.sync_api import ConsoleMessage
from playwright.sync_api import Locator
from playwright.sync_api import Page
from playwright.sync_api import Request
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer
from tests.browser.conftest import sign_in

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def watched(page: Page) -> Iterator[tuple[Page, list[str], list[str]]]:
    """The page, every URL it requested, and every console error (a CSP violation is one)."""
    urls: list[str] = []
    errors: list[str] = []

    def on_request(request: Request) -> None:
        urls.append(request.url)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    yield page, urls, errors


def _issue_token(page: Page, server: LiveServer, tenant: str) -> str:
    page.goto(f"{server.console}/t/{tenant}/directory")
    page.get_by_role("link", name="Tokens").click()
    page.get_by_role("button", name="Issue token").click()
    field = page.get_by_label("New token")
    expect(field).to_have_attribute("readonly", "")
    token = field.input_value()
    assert token.startswith("scimhub_")
    return token


def _reload_until_visible(page: Page, locator: Locator, seconds: float = 15) -> None:
    """Reload until ``locator`` shows: the server's runner recomputes roles in the background."""
    deadline = time.monotonic() + seconds
    while not locator.is_visible():
        assert time.monotonic() < deadline, f"{locator} never appeared"
        time.sleep(0.3)
        page.reload()


def _scim(server: LiveServer, token: str) -> httpx2.Client:
    return httpx2.Client(base_url=server.scim, headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_operator_flow_from_tenant_to_failed_request(
    watched: tuple[Page, list[str], list[str]], live_server: LiveServer
) -> None:
    page, urls, errors = watched
    sign_in(page, live_server)
    page.get_by_label("Tenant name").fill("flow-co")
    page.get_by_role("button", name="Create tenant").click()
    expect(page).to_have_url(f"{live_server.console}/t/flow-co/directory?done=created")
    token = _issue_token(page, live_server, "flow-co")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()  # console.js ran (CSP allows it)

    with _scim(live_server, token) as scim:
        ids = {}
        for name in ("ada@flow.example", "alan@flow.example", "grace@flow.example"):
            created = scim.post("/Users", json={"schemas": [USER], "userName": name})
            assert created.status_code == 201
            ids[name] = created.json()["id"]
        admins = {"schemas": [GROUP], "displayName": "Admins", "members": [{"value": ids["ada@flow.example"]}]}
        assert scim.post("/Groups", json=admins).status_code == 201
        duplicate = scim.post("/Users", json={"schemas": [USER], "userName": "ada@flow.example"})
        assert duplicate.status_code == 409

    page.get_by_role("link", name="Directory").click()
    page.get_by_label("Filter").fill('userName sw "a"')
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="ada@flow.example")).to_be_visible()
    expect(page.get_by_role("link", name="alan@flow.example")).to_be_visible()
    expect(page.get_by_role("link", name="grace@flow.example")).to_have_count(0)
    page.get_by_role("link", name="ada@flow.example").click()
    expect(page.get_by_role("heading", name="ada@flow.example")).to_be_visible()
    expect(page.get_by_role("cell", name="user.created", exact=True).first).to_be_visible()
    expect(page.get_by_text("No roles.")).to_be_visible()
    user_page = page.url

    # Group Admins' members get role "admin": a rule added on the Settings tab.
    page.get_by_role("link", name="Settings", exact=True).click()
    expect(page.get_by_text("No rules: nobody gets a role.")).to_be_visible()
    page.get_by_label("Role", exact=True).fill("admin")
    page.get_by_label("from").select_option(label="group name")
    page.get_by_label("Group or role value").fill("Admins")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_contain_text("Role rule added")
    expect(page.locator("#roles tbody")).to_contain_text("Admins")
    page.goto(user_page)
    _reload_until_visible(page, page.locator(".badge", has_text="admin"))
    expect(page.get_by_text("No roles.")).to_have_count(0)
    expect(page.locator("pre.json").last).to_contain_text('"roles": [')
    page.goto(user_page.replace(ids["ada@flow.example"], ids["alan@flow.example"]))
    expect(page.get_by_text("No roles.")).to_be_visible()

    page.get_by_role("link", name="Directory").click()
    page.get_by_label("Filter").fill('userName eq "unclosed')
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("alert")).to_contain_text("filter")

    page.get_by_role("link", name="Requests").click()
    page.get_by_role("link", name="Failed only").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("409")
    expect(page.locator("tbody")).to_contain_text("POST /scim/v2/Users")

    for tab in ("Tokens", "Setup", "Events", "Webhooks", "Settings", "Directory"):
        page.get_by_role("link", name=tab, exact=True).click()
        expect(page.get_by_role("link", name=tab, exact=True)).to_have_attribute("aria-current", "page")

    assert urls, "no request was seen"
    for url in urls:
        assert token not in url
        assert live_server.admin_token not in url
    # The one error a page logged is the bad filter's 400; nothing was refused by the CSP.
    assert [e for e in errors if "status of 400" not in e] == []


def test_events_arrive_live(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.get_by_label("Tenant name").fill("live-co")
    page.get_by_role("button", name="Create tenant").click()
    token = _issue_token(page, live_server, "live-co")
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_text("Live: new events appear at the top")).to_be_visible()
    expect(page.get_by_text("No events yet.")).to_be_visible()
    with _scim(live_server, token) as scim:
        assert scim.post("/Users", json={"schemas": [USER], "userName": "live@live.example"}).status_code == 201
    expect(page.locator("tbody tr").first).to_contain_text("user.created", timeout=10_000)
    expect(page.get_by_text("No events yet.")).to_have_count(0)


def test_no_page_without_a_session(page: Page, live_server: LiveServer) -> None:
    for path in ("/", "/t/anything/directory", "/t/anything/tokens", "/t/anything/settings"):
        page.goto(f"{live_server.console}{path}")
        expect(page).to_have_url(f"{live_server.console}/sign-in")
        expect(page.get_by_label("Admin token")).to_be_visible()


def test_csrf_refused_in_the_browser(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.locator('form[action$="/tenants"] input[name="csrf"]').evaluate("(e) => { e.value = 'forged'; }")
    page.get_by_label("Tenant name").fill("csrf-co")
    page.get_by_role("button", name="Create tenant").click()
    expect(page.get_by_role("alert")).to_contain_text("CSRF token does not match")
    page.goto(f"{live_server.console}/")
    expect(page.get_by_role("link", name="csrf-co")).to_have_count(0)


def test_sign_out(page: Page, live_server: LiveServer) -> None:
    sign_in(page, live_server)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{live_server.console}/sign-in")
    page.goto(f"{live_server.console}/")
    expect(page).to_have_url(f"{live_server.console}/sign-in")


def test_every_page_works_without_javascript(browser: Browser, live_server: LiveServer) -> None:
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, live_server)
        page.get_by_label("Tenant name").fill("nojs-co")
        page.get_by_role("button", name="Create tenant").click()
        expect(page.get_by_role("status")).to_have_text("Tenant created.")
        token = _issue_token(page, live_server, "nojs-co")
        expect(page.get_by_role("button", name="Copy")).to_be_hidden()  # a JavaScript nicety only
        with _scim(live_server, token) as scim:
            assert scim.post("/Users", json={"schemas": [USER], "userName": "nojs@nojs.example"}).status_code == 201
        page.get_by_role("link", name="Directory").click()
        page.get_by_label("Filter").fill('userName eq "nojs@nojs.example"')
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_role("link", name="nojs@nojs.example")).to_be_visible()
        for tab in ("Tokens", "Requests", "Events", "Webhooks", "Settings"):
            page.get_by_role("link", name=tab, exact=True).click()
            expect(page.get_by_role("heading", name=tab, exact=True)).to_be_visible()
        expect(page.get_by_text("Live: new events appear at the top")).to_be_hidden()
        page.get_by_role("link", name="Settings", exact=True).click()
        page.get_by_label("rate_limit").fill("50/second")
        page.get_by_label("rate_limit").press("Enter")
        expect(page.get_by_role("status")).to_have_text("Setting saved.")
    finally:
        context.close()
