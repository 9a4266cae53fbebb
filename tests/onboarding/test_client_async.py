"""AsyncAdminClient through the real ASGI app: the same operations as the blocking client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest

from scimhub.app import create_app
from scimhub.client import AdminApiError
from scimhub.client import AsyncAdminClient
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.events.support import ADMIN_TOKEN
from tests.events.support import fast
from tests.events.support import user_body

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(settings: Settings, store: SqlStore) -> object:
    return create_app(fast(settings, token_recheck_seconds=0.05, request_log_size=0), store=store)


@pytest.fixture
async def client(app: object) -> AsyncIterator[AsyncAdminClient]:
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    async with AsyncAdminClient("http://testserver", ADMIN_TOKEN, transport=transport) as admin:
        yield admin


async def test_onboard_read_the_feed_rotate_and_delete(app: object, client: AsyncAdminClient) -> None:
    await client.create_tenant("acme")
    issued = await client.issue_token("acme")
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://testserver/scim/v2", headers={"Authorization": f"Bearer {issued.secret}"}
    ) as idp:
        for name in ("ada", "bob"):
            assert (await idp.post("/Users", json=user_body(name))).status_code == 201

    seen = [event.seq async for event in client.events("acme", page_size=1)]
    rotated = await client.rotate_token("acme", issued.token.id, overlap_hours=1)
    tokens = {t.id: t for t in await client.tokens("acme")}
    deletion = await client.delete_tenant("acme")

    assert seen == [1, 2]
    assert rotated.replaces is not None and rotated.replaces.id == issued.token.id
    assert tokens[issued.token.id].expires_at is not None and tokens[rotated.token.id].expires_at is None
    assert deletion is not None and deletion.removed["tokens"] == 2
    assert [t async for t in client.tenants()] == []


async def test_errors_carry_the_status_and_the_detail(client: AsyncAdminClient) -> None:
    with pytest.raises(AdminApiError) as missing:
        await client.tenant("nosuch")
    with pytest.raises(AdminApiError) as invalid:
        await client.create_tenant("Not A Slug")

    assert (missing.value.status, missing.value.detail) == (404, "No tenant named 'nosuch'.")
    assert invalid.value.status == 400 and "not a valid tenant name" in invalid.value.detail
