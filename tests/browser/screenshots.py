"""Regenerate the console screenshots in docs/screenshots/ (shown in the README):

    python -m tests.browser.screenshots

Starts the real app under uvicorn on a temporary SQLite database seeded with a demo tenant
(users and groups provisioned over SCIM, a failed request, a webhook whose endpoint is down),
then drives Debian's chromium through every console page.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import zlib
from pathlib import Path

import httpx2
from playwright.sync_api import Page
from playwright.sync_api import sync_playwright

from scimhub.protocol import tenants
from scimhub.store.database import open_database
from scimhub.store.factory import open_store
from tests.browser.conftest import CHROMIUM
from tests.browser.conftest import CHROMIUM_ARGS
from tests.browser.conftest import LiveServer
from tests.browser.conftest import _serve
from tests.browser.conftest import live_settings
from tests.browser.conftest import sign_in
from tests.browser.setup_screenshots import setup_pages

OUT = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PEOPLE = [
    ("Ada", "Lovelace"), ("Alan", "Turing"), ("Grace", "Hopper"), ("Edsger", "Dijkstra"), ("Barbara", "Liskov"),
    ("Donald", "Knuth"), ("Frances", "Allen"), ("Ken", "Thompson"), ("Margaret", "Hamilton"), ("Dennis", "Ritchie"),
    ("Radia", "Perlman"), ("John", "Backus"), ("Katherine", "Johnson"), ("Tony", "Hoare"), ("Adele", "Goldberg"),
    ("Niklaus", "Wirth"), ("Shafi", "Goldwasser"), ("Leslie", "Lamport"), ("Sophie", "Wilson"), ("Butler", "Lampson"),
]  # fmt: skip


async def _seed(url: str) -> tuple[str, str]:
    database = open_database(url)
    await database.upgrade()
    await database.dispose()
    settings = live_settings(url)
    store = open_store(settings)
    await store.open()
    tenant = await tenants.create_tenant(store, "acme")
    for name in ("globex", "initech", "umbrella"):
        await tenants.create_tenant(store, name)
    _record, secret = await tenants.issue_token(store, tenant, None, 90)
    await tenants.issue_token(store, tenant, None)
    await store.close()
    return tenant.id, secret


def _provision(server: LiveServer, token: str) -> None:
    admin = {"Authorization": f"Bearer {server.admin_token}"}
    with httpx2.Client(base_url=f"{server.url}/admin/v1", headers=admin, timeout=10) as api:
        api.post("/tenants/acme/webhooks", json={"url": "http://127.0.0.1:9/scim-events"})  # nobody listens
        for rule in (
            {"role": "engineer", "group": "Engineering"},
            {"role": "researcher", "group": "Research", "priority": 5},
            {"role": "admin", "scimRole": "Global Administrator", "priority": 10},
        ):
            api.post("/tenants/acme/roles", json=rule)
        api.put("/tenants/acme/roles/settings", json={"default": "viewer"})
        api.put("/tenants/acme/attributes/costCenter", json={"path": f"{ENTERPRISE}:costCenter"})
    headers = {"Authorization": f"Bearer {token}", "User-Agent": "Okta SCIM Client 1.0.0"}
    with httpx2.Client(base_url=server.scim, headers=headers, timeout=10) as scim:
        ids = []
        for given, family in PEOPLE:
            user = {
                "schemas": [USER, ENTERPRISE],
                "userName": f"{given.lower()}.{family.lower()}@acme.example",
                "name": {"givenName": given, "familyName": family},
                "displayName": f"{given} {family}",
                "emails": [{"value": f"{given.lower()}@acme.example", "primary": True, "type": "work"}],
                "externalId": f"00u{zlib.crc32(family.encode()) % 10**8:08d}",
                "active": True,
                ENTERPRISE: {"costCenter": f"CC-{100 + len(ids) % 3}"},
            }
            ids.append(scim.post("/Users", json=user).json()["id"])
        for name, members in (("Engineering", ids[:9]), ("Research", ids[8:14]), ("Operations", ids[14:])):
            scim.post(
                "/Groups", json={"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members]}
            )
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "replace", "path": "active", "value": False}]}  # fmt: skip
        scim.patch(f"/Users/{ids[4]}", json=patch)
        duplicate = {"schemas": [USER], "userName": "ada.lovelace@acme.example", "password": "s3cret-from-the-idp"}
        scim.post("/Users", json=duplicate)
        scim.get("/Users", params={"filter": 'userName eq "x" and'})


def _shoot(page: Page, name: str, *, full: bool = True) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(f"docs/screenshots/{name}.png")  # noqa: T201


def main() -> int:
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)  # noqa: T201
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        _tenant_id, token = asyncio.run(_seed(url))
        settings = live_settings(url, webhook_allow_private=True)
        server_, thread, base = _serve(settings)
        server = LiveServer(base, settings.admin_token or "", settings)
        try:
            _provision(server, token)
            time.sleep(2.5)  # the request log and traffic counters are written once a second
            _pages(server)
        finally:
            server_.should_exit = True
            thread.join(timeout=15)
    return 0


def _pages(server: LiveServer) -> None:
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 800}, device_scale_factor=1)
        page = context.new_page()
        page.goto(f"{server.console}/sign-in")
        _shoot(page, "sign-in", full=False)
        sign_in(page, server)
        _shoot(page, "tenants")
        console = f"{server.console}/t/acme"
        page.goto(f"{console}/directory?filter=" + 'emails.value ew "acme.example" and active eq true')
        _shoot(page, "directory")
        page.get_by_role("link", name="ada.lovelace@acme.example").click()
        _shoot(page, "user")
        page.goto(f"{console}/tokens")
        page.get_by_label("Expires in (days)").fill("90")
        page.get_by_role("button", name="Issue token").click()
        _shoot(page, "tokens")
        page.goto(f"{console}/requests?failed=1")
        page.locator("summary", has_text="Bodies").nth(1).click()  # the 409: its request body, password redacted
        _shoot(page, "requests")
        page.goto(f"{console}/events")
        _shoot(page, "events", full=False)
        page.goto(f"{console}/webhooks")
        page.get_by_role("link", name="http://127.0.0.1:9/scim-events").click()
        _shoot(page, "webhook")
        page.goto(f"{console}/settings")
        _shoot(page, "settings")
        setup_pages(browser, page, server, _shoot)
        browser.close()


if __name__ == "__main__":
    raise SystemExit(main())
