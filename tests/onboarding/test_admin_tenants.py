"""Onboarding over the admin API: tenants and tokens, with the CLI's rules (issue 16)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.http import admin_tenants
from scimhub.settings import Settings
from scimhub.store.holds_sql import HoldStore
from scimhub.store.sql import SqlStore
from tests.events.support import admin_client
from tests.events.support import fast
from tests.events.support import user_body

pytestmark = pytest.mark.anyio


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Deletions wait for other servers' token recheck and request-log flush: keep both short here.
    return fast(settings, token_recheck_seconds=0.05, request_log_size=0)


@pytest.fixture
def app(settings: Settings, store: SqlStore) -> object:
    return create_app(settings, store=store)


@pytest.fixture
async def admin(app: object) -> AsyncIterator[httpx2.AsyncClient]:
    async with admin_client(app) as client:
        yield client


def scim(app: object, token: str) -> httpx2.AsyncClient:
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx2.AsyncClient(
        transport=transport, base_url="http://testserver/scim/v2", headers={"Authorization": f"Bearer {token}"}
    )


async def onboard(admin: httpx2.AsyncClient, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    created = await admin.post("/tenants", json={"name": name})
    assert created.status_code == 201, created.text
    issued = await admin.post(f"/tenants/{name}/tokens", json={})
    assert issued.status_code == 201, issued.text
    return created.json(), issued.json()


async def tenant_names(admin: httpx2.AsyncClient) -> list[str]:
    response = await admin.get("/tenants", params={"limit": 1000})
    return [t["name"] for t in response.json()["tenants"]]


# -- tenants ---------------------------------------------------------------------------------------
async def test_a_backend_onboards_a_customer_and_its_idp_can_provision_at_once(
    app: object, admin: httpx2.AsyncClient
) -> None:
    tenant, token = await onboard(admin, "acme")

    assert set(tenant) == {"id", "name", "createdAt"}
    assert tenant["name"] == "acme"
    assert token["token"].startswith("scimhub_") or len(token["token"]) > 30
    async with scim(app, token["token"]) as idp:
        created = await idp.post("/Users", json=user_body("ada@acme.example"))
    assert created.status_code == 201
    shown = (await admin.get("/tenants/acme")).json()
    assert shown["id"] == tenant["id"]
    assert (shown["users"], shown["groups"], shown["activeTokens"], shown["held"]) == (1, 0, 1, None)


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"name": "Acme Corp"}, 400, "'Acme Corp' is not a valid tenant name (e.g. 'acme-corp')"),
        ({"name": ""}, 400, "is not a valid tenant name"),
        ({"name": "a" * 64}, 400, "is not a valid tenant name"),
        ({"name": 7}, 400, 'Send {"name": "<tenant name>"}.'),
        ({}, 400, 'Send {"name": "<tenant name>"}.'),
        ([], 400, "The request body must be a JSON object."),
    ],
)
async def test_a_bad_tenant_name_is_refused_and_nothing_is_created(
    admin: httpx2.AsyncClient, body: Any, status: int, detail: str
) -> None:
    response = await admin.post("/tenants", json=body)

    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert await tenant_names(admin) == []


async def test_a_body_that_is_not_json_is_refused(admin: httpx2.AsyncClient) -> None:
    response = await admin.post("/tenants", content=b"{name: acme", headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert response.json()["detail"].startswith("The request body is not valid JSON")
    assert await tenant_names(admin) == []


async def test_a_taken_name_is_a_conflict_and_the_first_tenant_is_kept(admin: httpx2.AsyncClient) -> None:
    first, _ = await onboard(admin, "acme")

    response = await admin.post("/tenants", json={"name": "acme"})

    assert response.status_code == 409
    assert response.json() == {"detail": "Tenant 'acme' already exists."}
    assert (await admin.get("/tenants/acme")).json()["id"] == first["id"]


async def test_tenants_are_listed_a_page_at_a_time_in_name_order(admin: httpx2.AsyncClient) -> None:
    names = [f"t{i:02d}" for i in range(7)] + ["zeta"]
    for name in reversed(names):
        assert (await admin.post("/tenants", json={"name": name})).status_code == 201

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = (await admin.get("/tenants", params=params)).json()
        pages += 1
        seen += [t["name"] for t in body["tenants"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert seen == names
    assert pages == 3
    by_prefix = (await admin.get("/tenants", params={"prefix": "t0"})).json()
    assert [t["name"] for t in by_prefix["tenants"]] == names[:7]
    assert by_prefix["next_cursor"] is None


@pytest.mark.parametrize("query", ["limit=-1", "limit=x", "cursor=" + "x" * 201])
async def test_bad_list_parameters_are_refused(admin: httpx2.AsyncClient, query: str) -> None:
    response = await admin.get(f"/tenants?{query}")

    assert response.status_code == 400
    assert response.json()["detail"]


async def test_an_unknown_tenant_is_404_on_every_route(admin: httpx2.AsyncClient) -> None:
    for method, path in [
        ("GET", "/tenants/nosuch"),
        ("DELETE", "/tenants/nosuch"),
        ("GET", "/tenants/nosuch/tokens"),
        ("POST", "/tenants/nosuch/tokens"),
        ("POST", "/tenants/nosuch/tokens/abc/rotate"),
        ("DELETE", "/tenants/nosuch/tokens/abc"),
    ]:
        response = await admin.request(method, path, json={} if method == "POST" else None)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"detail": "No tenant named 'nosuch'."}


async def test_the_onboarding_routes_need_the_admin_token(app: object, admin: httpx2.AsyncClient) -> None:
    _, token = await onboard(admin, "acme")
    async with admin_client(app, token["token"]) as with_scim_token:
        for method, path in [("POST", "/tenants"), ("GET", "/tenants"), ("POST", "/tenants/acme/tokens")]:
            response = await with_scim_token.request(method, path, json={"name": "evil"})
            assert response.status_code == 401
    assert await tenant_names(admin) == ["acme"]
    assert len((await admin.get("/tenants/acme/tokens")).json()["tokens"]) == 1


# -- tokens ----------------------------------------------------------------------------------------
async def test_a_token_list_never_holds_a_secret(admin: httpx2.AsyncClient) -> None:
    _, issued = await onboard(admin, "acme")

    response = await admin.get("/tenants/acme/tokens")

    assert response.status_code == 200
    (listed,) = response.json()["tokens"]
    assert listed == {k: v for k, v in issued.items() if k != "token"}
    assert issued["token"] not in response.text
    assert issued["token"][:8] not in listed["id"]


async def test_a_token_may_expire(admin: httpx2.AsyncClient) -> None:
    await admin.post("/tenants", json={"name": "acme"})

    issued = (await admin.post("/tenants/acme/tokens", json={"expires_in_days": 30})).json()

    expires = datetime.fromisoformat(issued["expiresAt"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=1)


@pytest.mark.parametrize("days", [0, -1, 1.5, "7", True, 3651])
async def test_a_bad_expiry_is_refused_and_no_token_is_issued(admin: httpx2.AsyncClient, days: Any) -> None:
    await admin.post("/tenants", json={"name": "acme"})

    response = await admin.post("/tenants/acme/tokens", json={"expires_in_days": days})

    assert response.status_code == 400
    assert "expires_in_days" in response.json()["detail"]
    assert (await admin.get("/tenants/acme/tokens")).json() == {"tokens": []}


async def test_rotation_gives_a_new_token_and_the_old_one_an_overlap(app: object, admin: httpx2.AsyncClient) -> None:
    _, old = await onboard(admin, "acme")

    response = await admin.post(f"/tenants/acme/tokens/{old['id']}/rotate", json={"overlap_hours": 2})

    assert response.status_code == 201
    new = response.json()
    assert new["id"] != old["id"] and new["token"] != old["token"]
    assert new["replaces"]["id"] == old["id"]
    overlap = datetime.fromisoformat(new["replaces"]["expiresAt"]) - datetime.now(UTC)
    assert timedelta(hours=1, minutes=59) < overlap <= timedelta(hours=2)
    for secret in (old["token"], new["token"]):  # both work during the overlap
        async with scim(app, secret) as idp:
            assert (await idp.get("/Users")).status_code == 200


@pytest.mark.parametrize("overlap", [-1, "24", 24 * 91, None])
async def test_a_bad_overlap_is_refused_and_nothing_changes(admin: httpx2.AsyncClient, overlap: Any) -> None:
    _, old = await onboard(admin, "acme")

    response = await admin.post(f"/tenants/acme/tokens/{old['id']}/rotate", json={"overlap_hours": overlap})

    if overlap is None:  # null means the default overlap
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert "overlap_hours" in response.json()["detail"]
    (listed,) = (await admin.get("/tenants/acme/tokens")).json()["tokens"]
    assert listed["expiresAt"] is None


async def test_revoking_refuses_the_token_at_once(app: object, admin: httpx2.AsyncClient) -> None:
    _, issued = await onboard(admin, "acme")

    response = await admin.delete(f"/tenants/acme/tokens/{issued['id']}")

    assert response.status_code == 204
    async with scim(app, issued["token"]) as idp:
        assert (await idp.get("/Users")).status_code == 401
    (listed,) = (await admin.get("/tenants/acme/tokens")).json()["tokens"]
    assert listed["revokedAt"] is not None
    again = await admin.delete(f"/tenants/acme/tokens/{issued['id']}")
    assert again.status_code == 404
    assert (await admin.get("/tenants/acme")).json()["activeTokens"] == 0


async def test_a_token_id_never_reaches_across_tenants(app: object, admin: httpx2.AsyncClient) -> None:
    _, acme_token = await onboard(admin, "acme")
    await onboard(admin, "globex")

    revoke = await admin.delete(f"/tenants/globex/tokens/{acme_token['id']}")
    rotate = await admin.post(f"/tenants/globex/tokens/{acme_token['id']}/rotate", json={})

    for response in (revoke, rotate):
        assert response.status_code == 404
        assert response.json() == {"detail": f"No token {acme_token['id']} in tenant 'globex'."}
    async with scim(app, acme_token["token"]) as idp:
        assert (await idp.get("/Users")).status_code == 200
    assert len((await admin.get("/tenants/globex/tokens")).json()["tokens"]) == 1


# -- deletion --------------------------------------------------------------------------------------
async def test_deleting_a_tenant_removes_it_and_its_tokens(app: object, admin: httpx2.AsyncClient) -> None:
    _, issued = await onboard(admin, "acme")
    async with scim(app, issued["token"]) as idp:
        await idp.post("/Users", json=user_body("ada@acme.example"))
    await onboard(admin, "globex")

    response = await admin.delete("/tenants/acme")

    assert response.status_code == 200
    assert response.json()["removed"]["tokens"] == 1
    assert (await admin.get("/tenants/acme")).status_code == 404
    assert await tenant_names(admin) == ["globex"]
    async with scim(app, issued["token"]) as idp:
        assert (await idp.get("/Users")).status_code == 401


async def test_a_held_stream_refuses_the_deletion_unless_forced(
    store: SqlStore, app: object, admin: httpx2.AsyncClient
) -> None:
    tenant, _ = await onboard(admin, "acme")
    await HoldStore(store.db).pause(tenant["id"], datetime.now(UTC).isoformat(), "investigating")

    refused = await admin.delete("/tenants/acme")

    assert refused.status_code == 409
    assert "held" in refused.json()["detail"] and "?force=true" in refused.json()["detail"]
    assert (await admin.get("/tenants/acme")).json()["activeTokens"] == 1
    forced = await admin.delete("/tenants/acme?force=true")
    assert forced.status_code == 200
    assert (await admin.get("/tenants/acme")).status_code == 404


async def test_pending_webhook_deliveries_refuse_the_deletion(
    settings: Settings, store: SqlStore, admin: httpx2.AsyncClient
) -> None:
    # No lifespan runs here, so no worker delivers: the webhook owes the event below.
    _, issued = await onboard(admin, "acme")
    hook = await admin.post("/tenants/acme/webhooks", json={"url": "https://hooks.example/scim"})
    assert hook.status_code == 201
    app = create_app(settings, store=store)
    async with scim(app, issued["token"]) as idp:
        await idp.post("/Users", json=user_body("ada@acme.example"))

    refused = await admin.delete("/tenants/acme")

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "1 undelivered event" in detail and "?force=true" in detail
    assert (await admin.get("/tenants/acme")).json()["users"] == 1


async def test_a_long_deletion_answers_202_and_can_be_followed(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, store: SqlStore
) -> None:
    # Slow other servers (a long token recheck) make the deletion outlast the request's wait.
    app = create_app(dataclasses.replace(settings, token_recheck_seconds=0.6), store=store)
    monkeypatch.setattr(admin_tenants, "DELETE_WAIT_SECONDS", 0.05)
    async with admin_client(app) as admin:
        await onboard(admin, "acme")

        started = await admin.delete("/tenants/acme")
        following = await admin.get("/tenants/acme")
        again = await admin.delete("/tenants/acme")  # joins the running deletion
        monkeypatch.setattr(admin_tenants, "DELETE_WAIT_SECONDS", 5.0)
        finished = await admin.delete("/tenants/acme")

        assert started.status_code == 202
        assert "GET it to follow the deletion" in started.json()["detail"]
        assert following.status_code == 200 and "deletion" in following.json()
        assert following.json()["activeTokens"] == 0  # the tokens went first
        assert again.status_code == 202
        assert finished.status_code == 200
        assert (await admin.get("/tenants/acme")).status_code == 404
