"""Signing in to the console in a real browser."""

from __future__ import annotations

from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer


def test_console_redirects_to_sign_in_then_lists_tenants(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.console}/")
    expect(page).to_have_url(f"{live_server.console}/sign-in")
    page.get_by_label("Admin token").fill(live_server.admin_token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Tenants")).to_be_visible()
    assert live_server.admin_token not in page.content()
    assert live_server.admin_token not in page.url


def test_wrong_token_is_refused_and_stays_on_sign_in(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.console}/sign-in")
    page.get_by_label("Admin token").fill("not-the-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the admin token.")
    page.goto(f"{live_server.console}/")
    expect(page).to_have_url(f"{live_server.console}/sign-in")


def test_create_tenant_shows_it_as_a_link(signed_in: Page, live_server: LiveServer) -> None:
    signed_in.get_by_label("Tenant name").fill("browser-co")
    signed_in.get_by_role("button", name="Create tenant").click()
    expect(signed_in.get_by_role("status")).to_have_text("Tenant created.")
    signed_in.goto(f"{live_server.console}/")
    signed_in.get_by_role("link", name="browser-co").click()
    expect(signed_in).to_have_url(f"{live_server.console}/t/browser-co/directory")
