"""Token rotation with overlap: the new token works at once, the old one until the overlap ends."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import httpx2
import pytest

from scimhub.auth.bearer import authenticate
from scimhub.errors import NotFound
from scimhub.errors import Unauthorized
from scimhub.protocol import tenants
from scimhub.store.sql import SqlStore
from tests.conftest import SCIM
from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def test_rotation_issues_a_working_token_and_the_old_one_expires_after_the_overlap(
    store: SqlStore, app: object, acme: TenantAccess
) -> None:
    record, secret = await tenants.rotate_token(store, acme.token_id, overlap_hours=2, pepper=None)
    assert record.tenant_id == acme.tenant_id
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),  # type: ignore[arg-type]
        base_url=SCIM,
        headers={"Authorization": f"Bearer {secret}"},
    ) as new_client:
        assert (await new_client.get("/Users")).status_code == 200
    assert (await acme.client.get("/Users")).status_code == 200  # still inside the overlap

    later = datetime.now(UTC) + timedelta(hours=2, minutes=1)
    with pytest.raises(Unauthorized, match="expired"):
        await authenticate(store, f"Bearer {acme.token}", None, now=later)
    principal = await authenticate(store, f"Bearer {secret}", None, now=later)
    assert principal.token_id == record.id


async def test_rotation_never_extends_an_earlier_expiry(store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    short, _ = await tenants.issue_token(store, tenant, None, expires_in_days=1)
    await tenants.rotate_token(store, short.id, overlap_hours=72, pepper=None)
    rotated = await store.token_by_id(short.id)
    assert rotated is not None and rotated.expires_at == short.expires_at


async def test_rotating_a_revoked_or_unknown_token_is_refused(store: SqlStore, acme: TenantAccess) -> None:
    await tenants.revoke_token(store, acme.token_id)
    with pytest.raises(NotFound):
        await tenants.rotate_token(store, acme.token_id, overlap_hours=1, pepper=None)
    with pytest.raises(NotFound):
        await tenants.rotate_token(store, "no-such-token", overlap_hours=1, pepper=None)


async def test_a_revoked_token_is_refused_on_the_very_next_request(store: SqlStore, acme: TenantAccess) -> None:
    assert (await acme.client.get("/Users")).status_code == 200
    await tenants.revoke_token(store, acme.token_id)
    assert (await acme.client.get("/Users")).status_code == 401
