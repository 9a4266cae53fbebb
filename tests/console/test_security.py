"""The console's security properties, through the real ASGI app: no page without a session,
CSRF refused with nothing changed, throttled sign-in, the CSP and cookie flags, the admin token
never in a page or a URL, escaping, and 404 without SCIMHUB_ADMIN_TOKEN."""

from __future__ import annotations

import dataclasses
import re

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.console.app import CSP
from scimhub.console.session import COOKIE
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.conftest import TenantAccess
from tests.console.conftest import ADMIN_TOKEN
from tests.console.conftest import BASE
from tests.console.conftest import Console
from tests.console.conftest import csrf_of

pytestmark = pytest.mark.anyio

PAGES = [
    "/console/",
    "/console/t/acme/directory",
    "/console/t/acme/tokens",
    "/console/t/acme/setup",
    "/console/t/acme/requests",
    "/console/t/acme/events",
    "/console/t/acme/events.json",
    "/console/t/acme/webhooks",
    "/console/t/acme/settings",
]
FORMS = [
    ("/console/tenants", {"name": "evil"}),
    ("/console/t/acme/tokens", {}),
    ("/console/t/acme/webhooks", {"url": "https://example.com/hook"}),
    ("/console/t/acme/settings", {"key": "rate_limit", "value": "5/second"}),
    ("/console/t/acme/pause", {"reason": "x"}),
    ("/console/sign-out", {}),
]


@pytest.mark.parametrize("path", PAGES)
async def test_no_page_without_a_session(anonymous: Console, tenant: TenantAccess, path: str) -> None:
    response = await anonymous.client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"


async def test_a_forged_or_foreign_cookie_is_no_session(anonymous: Console, tenant: TenantAccess) -> None:
    anonymous.client.cookies.set(COOKIE, "eyJhdXRoIjp0cnVlfQ.forged", path="/console")
    assert (await anonymous.client.get("/console/")).status_code == 303


async def _state(store: SqlStore, tenant_id: str) -> tuple[object, ...]:
    return (
        [t.name for t in await store.list_tenants()],
        len(await store.list_tokens(tenant_id)),
        await store.tenant_settings(tenant_id),
    )


@pytest.mark.parametrize(("path", "fields"), FORMS)
async def test_csrf_refused_and_nothing_changed(
    console: Console, tenant: TenantAccess, store: SqlStore, path: str, fields: dict[str, str]
) -> None:
    before = await _state(store, tenant.tenant_id)
    for csrf in (None, "", "wrong-token"):
        data = fields if csrf is None else {**fields, "csrf": csrf}
        response = await console.client.post(path, data=data)
        assert response.status_code == 403
        assert "CSRF token does not match" in response.text
    assert await _state(store, tenant.tenant_id) == before
    assert (await console.client.get("/console/")).status_code == 200  # still signed in


@pytest.mark.parametrize(("path", "fields"), FORMS)
async def test_forms_without_a_session_are_refused(
    anonymous: Console, tenant: TenantAccess, store: SqlStore, path: str, fields: dict[str, str]
) -> None:
    before = await _state(store, tenant.tenant_id)
    response = await anonymous.client.post(path, data={**fields, "csrf": "x"})
    assert response.status_code == 403
    assert await _state(store, tenant.tenant_id) == before


async def test_csrf_token_of_another_session_is_refused(
    console: Console, console_app: object, tenant: TenantAccess, store: SqlStore
) -> None:
    other = Console(httpx2.AsyncClient(transport=httpx2.ASGITransport(app=console_app), base_url=BASE))  # type: ignore[arg-type]
    async with other.client:
        assert (await other.sign_in()).status_code == 303
        response = await console.client.post("/console/tenants", data={"csrf": other.csrf, "name": "evil"})
    assert response.status_code == 403
    assert await store.tenant_by_name("evil") is None


async def test_sign_in_form_needs_its_csrf_token(anonymous: Console) -> None:
    await anonymous.client.get("/console/sign-in")
    response = await anonymous.client.post("/console/sign-in", data={"token": ADMIN_TOKEN, "csrf": "nope"})
    assert response.status_code == 403
    assert (await anonymous.client.get("/console/")).status_code == 303


async def test_sign_in_is_throttled_per_address(anonymous: Console) -> None:
    page = await anonymous.client.get("/console/sign-in")
    csrf = csrf_of(page.text)
    for _ in range(5):
        wrong = await anonymous.client.post("/console/sign-in", data={"csrf": csrf, "token": "guess"})
        assert wrong.status_code == 401
        assert "That is not the admin token." in wrong.text
    throttled = await anonymous.client.post("/console/sign-in", data={"csrf": csrf, "token": ADMIN_TOKEN})
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    assert (await anonymous.client.get("/console/")).status_code == 303  # the right token did not get in


async def test_sign_out_ends_the_session(console: Console) -> None:
    response = await console.post("/console/sign-out")
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in"
    assert (await console.client.get("/console/")).status_code == 303


async def test_a_new_admin_token_ends_every_session(
    console: Console, console_settings: Settings, store: SqlStore
) -> None:
    cookie = console.client.cookies.get(COOKIE)
    changed = create_app(
        dataclasses.replace(console_settings, admin_token="another-admin-token-0123456789abcdef"), store=store
    )
    transport = httpx2.ASGITransport(app=changed)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url=BASE, cookies={COOKIE: cookie or ""}) as client:
        assert (await client.get("/console/")).status_code == 303


async def test_cookie_flags_and_security_headers(anonymous: Console) -> None:
    page = await anonymous.client.get("/console/sign-in")
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'none'" in CSP and "script-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; over https it is Secure (next test)
    assert "<script>" not in page.text and " style=" not in page.text and "<style" not in page.text


async def test_cookie_is_secure_over_https(console_app: object) -> None:
    transport = httpx2.ASGITransport(app=console_app)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url="https://testserver") as client:
        page = await client.get("/console/sign-in")
    assert "Secure" in page.headers["set-cookie"]


async def test_admin_token_never_in_a_page_a_url_or_the_cookie(console: Console, tenant: TenantAccess) -> None:
    for path in PAGES:
        response = await console.client.get(path)
        assert response.status_code == 200, path
        assert ADMIN_TOKEN not in response.text
        assert ADMIN_TOKEN not in str(response.url)
        assert not any(ADMIN_TOKEN in v for v in response.headers.values())
    cookie = console.client.cookies.get(COOKIE) or ""
    assert ADMIN_TOKEN not in cookie
    import base64

    assert ADMIN_TOKEN.encode() not in base64.urlsafe_b64decode(cookie.split(".")[0] + "==")


async def test_no_secret_in_any_link_or_form_action(console: Console, tenant: TenantAccess) -> None:
    issued = await console.post("/console/t/acme/tokens")
    secret = re.search(r'readonly value="([^"]+)"', issued.text)
    assert secret is not None
    urls = re.findall(r'(?:href|action|src)="([^"]*)"', issued.text)
    assert urls and not any(secret.group(1) in u or tenant.token in u for u in urls)


async def test_values_are_escaped(console: Console, tenant: TenantAccess) -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "<script>alert(1)</script>"}
    assert (await tenant.client.post("/Users", json=body)).status_code == 201
    page = await console.client.get("/console/t/acme/directory")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_console_is_404_without_the_admin_token(settings: Settings, store: SqlStore) -> None:
    app = create_app(settings, store=store)
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(transport=transport, base_url=BASE) as client:
        for path in ("/console/", "/console/sign-in", "/console/static/console.css"):
            assert (await client.get(path)).status_code == 404
        assert (await client.post("/console/sign-in", data={"token": "x"})).status_code == 404


async def test_static_files_are_served_with_the_csp(anonymous: Console) -> None:
    css = await anonymous.client.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["content-security-policy"] == CSP
    js = await anonymous.client.get("/console/static/console.js")
    assert js.status_code == 200
    assert "innerHTML" not in js.text  # the live list builds rows with textContent
