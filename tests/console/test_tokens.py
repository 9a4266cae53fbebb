"""The tokens tab: issue (shown once), rotate with overlap, revoke."""

from __future__ import annotations

import re

import httpx2
import pytest

from scimhub.auth.tokens import display_prefix
from scimhub.store.sql import SqlStore
from tests.conftest import SCIM
from tests.conftest import TenantAccess
from tests.console.conftest import Console

pytestmark = pytest.mark.anyio
_NEW = re.compile(r'id="new-secret" type="text" readonly value="([^"]+)"')


def _secret(html: str) -> str:
    found = _NEW.search(html)
    assert found is not None
    return found.group(1)


async def _scim_status(console: Console, secret: str) -> int:
    transport = console.client._transport
    async with httpx2.AsyncClient(transport=transport, base_url=SCIM) as scim:
        return (await scim.get("/Users", headers={"Authorization": f"Bearer {secret}"})).status_code


async def test_issued_token_is_shown_once_and_works(console: Console, tenant: TenantAccess) -> None:
    issued = await console.post("/console/t/acme/tokens")
    assert issued.status_code == 201
    assert issued.headers["cache-control"] == "no-store"
    secret = _secret(issued.text)
    assert await _scim_status(console, secret) == 200
    again = await console.client.get("/console/t/acme/tokens")
    assert secret not in again.text
    assert display_prefix(secret) in again.text  # listed by its prefix only


async def test_revoked_token_stops_working(console: Console, tenant: TenantAccess, store: SqlStore) -> None:
    secret = _secret((await console.post("/console/t/acme/tokens")).text)
    record = next(t for t in await store.list_tokens(tenant.tenant_id) if t.id != tenant.token_id)
    revoked = await console.post(f"/console/t/acme/tokens/{record.id}/revoke")
    assert revoked.status_code == 303
    assert revoked.headers["location"] == "/console/t/acme/tokens?done=revoked"
    assert (await store.token_by_id(record.id)).revoked_at is not None  # type: ignore[union-attr]
    assert await _scim_status(console, secret) == 401


async def test_rotate_gives_a_new_token_and_the_old_one_an_expiry(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    rotated = await console.post(f"/console/t/acme/tokens/{tenant.token_id}/rotate", overlap_hours="2")
    assert rotated.status_code == 201
    assert await _scim_status(console, _secret(rotated.text)) == 200
    old = await store.token_by_id(tenant.token_id)
    assert old is not None and old.expires_at is not None


async def test_bad_expiry_is_refused_and_issues_nothing(
    console: Console, tenant: TenantAccess, store: SqlStore
) -> None:
    before = await store.list_tokens(tenant.tenant_id)
    refused = await console.post("/console/t/acme/tokens", expires_in_days="soon")
    assert refused.status_code == 400
    assert "Expiry (days) must be a whole number" in refused.text
    assert 'id="new-secret"' not in refused.text
    assert len(await store.list_tokens(tenant.tenant_id)) == len(before)


async def test_token_of_another_tenant_is_404(console: Console, tenant: TenantAccess, globex: TenantAccess) -> None:
    response = await console.post(f"/console/t/acme/tokens/{globex.token_id}/revoke")
    assert response.status_code == 404
