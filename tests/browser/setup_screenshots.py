"""The setup page's screenshots (docs/screenshots/setup-*.png), taken by ``python -m
tests.browser.screenshots`` after the console's: the console's Setup tab, the setup page with
Okta chosen, the token generated, and "Connected" once the demo IdP has called with that token.
Tokens and link secrets are drawn as dots (a token in a committed image would trip secret
scanners, and it is one)."""

from __future__ import annotations

from collections.abc import Callable

import httpx2
from playwright.sync_api import Browser
from playwright.sync_api import Page
from playwright.sync_api import expect

from tests.browser.conftest import LiveServer

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
OKTA = "Okta SCIM Client 1.0.0"
_HIDE_SECRETS = """() => {
  const dots = (text) => text.replace(/(scimhub_|\\/setup\\/)[A-Za-z0-9_-]+/, (_, head) => head + "•".repeat(24));
  for (const input of document.querySelectorAll("#token, #setup-url")) input.value = dots(input.value);
  for (const code of document.querySelectorAll("code.secret")) code.textContent = dots(code.textContent);
}"""


def hide_secrets(page: Page) -> None:
    page.evaluate(_HIDE_SECRETS)


def setup_pages(browser: Browser, console: Page, server: LiveServer, shoot: Callable[[Page, str], None]) -> None:
    """``console``: a page signed in to the console; ``shoot(page, name)`` writes the screenshot."""
    console.goto(f"{server.console}/t/acme/setup")
    console.get_by_role("button", name="Create setup link").click()
    link = console.get_by_label("Setup link").input_value()
    hide_secrets(console)
    shoot(console, "setup-console-tab")

    context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
    page = context.new_page()  # the customer's IT admin: no console session, only the link
    page.goto(f"{link}?idp=okta")
    shoot(page, "setup-okta")
    page.get_by_role("button", name="Generate token").click()
    token = page.get_by_label("Token").input_value()
    headers = {"Authorization": f"Bearer {token}", "User-Agent": OKTA}
    with httpx2.Client(base_url=server.scim, headers=headers, timeout=10) as idp:
        idp.get("/Users", params={"filter": 'userName eq "linus.torvalds@acme.example"'})
        idp.post("/Users", json={"schemas": [USER], "userName": "linus.torvalds@acme.example"})
        idp.post("/Users", json={"schemas": [USER], "userName": "linus.torvalds@acme.example"})  # 409
        idp.get("/scim/v2/Users")  # a base URL pasted twice: 404
    expect(page.locator("#check-title")).to_have_text("Connected", timeout=15_000)
    expect(page.locator("#check-failures li")).to_have_count(2)
    hide_secrets(page)
    shoot(page, "setup-connected")
    page.goto(f"{link}?idp=entra#step-fields")
    shoot(page, "setup-entra")
    context.close()
