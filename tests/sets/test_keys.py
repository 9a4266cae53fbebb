"""SET signing keys: per tenant, in the database, published as a JWKS; a rotation keeps the old
key published (SETs it signed still verify) until it is retired."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import jwt
import pytest

from tests.events.support import admin_client
from tests.events.support import create_user
from tests.sets.support import add_stream
from tests.sets.support import jwks
from tests.sets.support import poll
from tests.sets.support import public_client
from tests.sets.support import verify

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


async def one_set(app: object, stream: dict[str, Any]) -> str:
    body = (await poll(app, stream, returnImmediately=True, maxEvents=1)).json()
    ((jti, token),) = body["sets"].items()
    await poll(app, stream, ack=[jti], maxEvents=0)
    return str(token)


async def test_old_sets_verify_while_their_key_is_published(app: object, acme: TenantAccess) -> None:
    stream = await add_stream(app, poll=True, audience="poller")
    await create_user(acme.client, "before")
    old_set = await one_set(app, stream)

    async with admin_client(app) as admin:
        rotated = await admin.post("/tenants/acme/set-keys/rotate")
        keys = (await admin.get("/tenants/acme/set-keys")).json()["keys"]
    await create_user(acme.client, "after")
    new_set = await one_set(app, stream)
    published = await jwks(app, acme.tenant_id)

    assert rotated.status_code == 201
    assert [k["state"] for k in keys] == ["published", "active"]
    old_kid, new_kid = keys[0]["kid"], keys[1]["kid"]
    assert jwt.get_unverified_header(old_set)["kid"] == old_kid
    assert jwt.get_unverified_header(new_set)["kid"] == new_kid == rotated.json()["kid"]
    assert {k["kid"] for k in published["keys"]} == {old_kid, new_kid}
    assert all("d" not in k for k in published["keys"]), "never the private part"
    assert verify(old_set, published, "poller")["sub_id"]["uri"].startswith("/Users/")
    assert verify(new_set, published, "poller")["sub_id"]["uri"].startswith("/Users/")

    async with admin_client(app) as admin:
        retired = await admin.delete(f"/tenants/acme/set-keys/{old_kid}")
        refused = await admin.delete(f"/tenants/acme/set-keys/{new_kid}")
    after_retire = await jwks(app, acme.tenant_id)

    assert retired.status_code == 204
    assert refused.status_code == 404
    assert "active key is never retired" in refused.json()["detail"]
    assert [k["kid"] for k in after_retire["keys"]] == [new_kid]
    with pytest.raises(KeyError):
        verify(old_set, after_retire, "poller")  # its key is no longer in the set
    assert verify(new_set, after_retire, "poller")


async def test_a_set_signed_by_another_tenants_key_does_not_verify(
    app: object, acme: TenantAccess, globex: TenantAccess
) -> None:
    acme_stream = await add_stream(app, poll=True, audience="same")
    await add_stream(app, "globex", poll=True, audience="same")
    await create_user(acme.client, "a")

    token = await one_set(app, acme_stream)

    with pytest.raises(KeyError):
        verify(token, await jwks(app, globex.tenant_id), "same")


async def test_a_tenant_without_keys_publishes_no_jwks(app: object, acme: TenantAccess) -> None:
    async with public_client(app) as client:
        response = await client.get(f"/sets/v1/tenants/{acme.tenant_id}/jwks.json")

    assert response.status_code == 404
    assert response.json() == {"err": "not_found", "description": "No SET signing keys are published for this tenant."}
