"""Bearer authentication (RFC 6750, RFC 7644 §2): every bad credential is a SCIM 401."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import httpx2
import pytest
from sqlalchemy import update

from scimhub.auth.tokens import mint_token
from scimhub.protocol import tenants
from scimhub.store.sql import SqlStore
from scimhub.store.tables import tokens
from tests.http.scim_checks import UNKNOWN_ID
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import get_ok
from tests.http.scim_checks import patch_body
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio

REQUESTS = [
    ("GET", "/Users"),
    ("GET", f"/Users/{UNKNOWN_ID}"),
    ("POST", "/Users"),
    ("PUT", f"/Users/{UNKNOWN_ID}"),
    ("PATCH", f"/Users/{UNKNOWN_ID}"),
    ("DELETE", f"/Users/{UNKNOWN_ID}"),
    ("GET", "/Groups"),
    ("POST", "/Groups"),
    ("GET", "/ServiceProviderConfig"),
    ("GET", "/Schemas"),
    ("GET", "/ResourceTypes"),
    ("GET", "/NoSuchEndpoint"),
]


def assert_unauthorized(response: httpx2.Response) -> None:
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


async def _set_token(store: SqlStore, token_id: str, **values: str | None) -> None:
    """Change the token's row through this process's store, which counts the change (as its own
    revoke_token and set_token_expiry do): the next request rereads the row."""
    async with store.db.write() as tx:
        await tx.execute(update(tokens).where(tokens.c.id == token_id).values(**values))
    store.token_changes += 1


async def _last_used(store: SqlStore, access: TenantAccess) -> str | None:
    (record,) = [t for t in await store.list_tokens(access.tenant_id) if t.id == access.token_id]
    return record.last_used_at


@pytest.mark.parametrize(("method", "path"), REQUESTS)
async def test_a_request_without_authorization_answers_401_on_every_route(
    app: object, acme: TenantAccess, method: str, path: str
) -> None:
    async with client_for(app, None) as anonymous:
        response = await anonymous.request(method, path, json=user_body("intruder"))

    assert_unauthorized(response)
    assert (await get_ok(acme.client, "/Users"))["totalResults"] == 0


@pytest.mark.parametrize(
    "header",
    [
        "non-token",  # Okta's SPEC test (IDP_QUIRKS 1.1)
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Token scimhub_abc",
        "Bearer not-a-scimhub-token",
        "Bearer scimhub_",
        "Bearer scimhub_0000000000000000000000000000000000000000000000000",
    ],
)
async def test_a_malformed_or_foreign_credential_answers_401(app: object, acme: TenantAccess, header: str) -> None:
    async with client_for(app, None) as client:
        response = await client.get("/Users", headers={"Authorization": header})

    assert_unauthorized(response)


async def test_a_well_formed_but_unknown_token_answers_401(app: object, acme: TenantAccess) -> None:
    async with client_for(app, mint_token()) as stranger:
        response = await stranger.post("/Users", json=user_body("intruder"))

    assert_unauthorized(response)
    assert (await get_ok(acme.client, "/Users"))["totalResults"] == 0


async def test_a_token_that_is_almost_right_answers_401(app: object, acme: TenantAccess) -> None:
    last = acme.token[-1]
    typo = acme.token[:-1] + ("A" if last != "A" else "B")

    async with client_for(app, typo) as client:
        assert_unauthorized(await client.get("/Users"))


async def test_the_bearer_scheme_is_case_insensitive(app: object, acme: TenantAccess) -> None:
    async with client_for(app, None) as client:
        response = await client.get("/Users", headers={"Authorization": f"bearer {acme.token}"})

    assert response.status_code == 200


async def test_a_revoked_token_answers_401_and_changes_nothing(
    app: object, acme: TenantAccess, store: SqlStore
) -> None:
    user = await create_user(acme.client, "bjensen")
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    _, spare = await tenants.issue_token(store, tenant, None)
    before = await snapshot(acme.client)

    await tenants.revoke_token(store, acme.token_id)

    for method, path in [("GET", "/Users"), ("DELETE", f"/Users/{user['id']}"), ("POST", "/Users")]:
        assert_unauthorized(await acme.client.request(method, path, json=user_body("x")))
    async with client_for(app, spare) as other:
        assert await snapshot(other) == before


async def test_an_expired_token_answers_401(acme: TenantAccess, store: SqlStore) -> None:
    assert (await acme.client.get("/Users")).status_code == 200
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")

    await _set_token(store, acme.token_id, expires_at=past)

    assert_unauthorized(await acme.client.get("/Users"))
    assert_unauthorized(await acme.client.patch(f"/Users/{UNKNOWN_ID}", json=patch_body()))


async def test_a_token_with_a_future_expiry_works_until_then(app: object, store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    record, secret = await tenants.issue_token(store, tenant, None, expires_in_days=1)

    async with client_for(app, secret) as client:
        assert (await client.get("/Users")).status_code == 200
        await _set_token(store, record.id, expires_at=datetime.now(UTC).isoformat(timespec="seconds"))
        assert_unauthorized(await client.get("/Users"))


async def test_last_used_at_is_recorded_by_a_request(store: SqlStore, acme: TenantAccess) -> None:
    assert await _last_used(store, acme) is None
    started = datetime.now(UTC).replace(microsecond=0)

    await acme.client.get("/Users")

    recorded = await _last_used(store, acme)
    assert recorded is not None
    assert started <= datetime.fromisoformat(recorded) <= datetime.now(UTC)


async def test_last_used_at_is_not_rewritten_on_every_request(
    store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await acme.client.get("/Users")
    first = await _last_used(store, acme)
    touches: list[str] = []
    original = store.touch_token

    async def counting(token_id: str, when: str) -> None:
        touches.append(when)
        await original(token_id, when)

    monkeypatch.setattr(store, "touch_token", counting)
    for _ in range(5):
        assert (await acme.client.get("/Users")).status_code == 200

    assert touches == []
    assert await _last_used(store, acme) == first


async def test_last_used_at_is_refreshed_once_it_is_old(store: SqlStore, acme: TenantAccess) -> None:
    old = (datetime.now(UTC) - timedelta(hours=1)).isoformat(timespec="seconds")
    await _set_token(store, acme.token_id, last_used_at=old)

    await acme.client.get("/Users")

    refreshed = await _last_used(store, acme)
    assert refreshed is not None
    assert datetime.fromisoformat(refreshed) > datetime.fromisoformat(old)


async def test_a_rejected_request_does_not_touch_any_token(app: object, store: SqlStore, acme: TenantAccess) -> None:
    async with client_for(app, mint_token()) as stranger:
        assert_unauthorized(await stranger.get("/Users"))

    assert await _last_used(store, acme) is None


async def test_revoking_one_tenants_token_leaves_the_other_tenant_working(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    await tenants.revoke_token(store, acme.token_id)

    assert_unauthorized(await acme.client.get("/Users"))
    assert (await globex.client.get("/Users")).status_code == 200
