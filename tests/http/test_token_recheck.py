"""A token's row is read again at most every token_recheck_seconds (the store counts its own changes)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import update

from scimhub.app import create_app
from scimhub.auth.bearer import MAX_REMEMBERED
from scimhub.auth.bearer import BearerAuthenticator
from scimhub.auth.tokens import digest
from scimhub.auth.tokens import mint_token
from scimhub.errors import Unauthorized
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.base import TokenRecord
from scimhub.store.sql import SqlStore
from scimhub.store.tables import tokens
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingStore:
    """The real store, counting the token rows read."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.reads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        self.reads += 1
        return await self.store.token_by_digest(digest)


async def _revoke_elsewhere(store: SqlStore, token_id: str) -> None:
    """What `scimhub token revoke` does from its own process: this store's count does not move."""
    async with store.db.write() as tx:
        await tx.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at="2026-01-01T00:00:00+00:00"))


def _authenticator(store: SqlStore, clock: Clock, recheck: float = 1.0) -> tuple[BearerAuthenticator, CountingStore]:
    counting = CountingStore(store)
    return BearerAuthenticator(counting, None, recheck, clock), counting  # type: ignore[arg-type]


async def test_a_token_row_is_read_once_per_interval(store: SqlStore, acme: TenantAccess) -> None:
    clock = Clock()
    auth, counting = _authenticator(store, clock)

    for _ in range(5):
        assert (await auth.authenticate(f"Bearer {acme.token}")).tenant_id == acme.tenant_id
    assert counting.reads == 1

    clock.now += 1.0
    await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 2


async def test_a_revocation_by_another_process_is_honoured_after_the_interval(
    store: SqlStore, acme: TenantAccess
) -> None:
    clock = Clock()
    auth, _ = _authenticator(store, clock)
    await auth.authenticate(f"Bearer {acme.token}")

    await _revoke_elsewhere(store, acme.token_id)
    clock.now += 0.5
    await auth.authenticate(f"Bearer {acme.token}")  # still within the interval
    clock.now += 0.5

    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")


async def test_a_revocation_through_this_store_is_honoured_at_once(store: SqlStore, acme: TenantAccess) -> None:
    auth, _ = _authenticator(store, Clock(), recheck=3600)
    await auth.authenticate(f"Bearer {acme.token}")

    await tenants.revoke_token(store, acme.token_id)

    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")


async def test_a_remembered_token_still_expires_on_time(store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    record, secret = await tenants.issue_token(store, tenant, None, expires_in_days=1)
    assert record.expires_at is not None
    auth, counting = _authenticator(store, Clock(), recheck=3600)
    expiry = datetime.fromisoformat(record.expires_at)
    await auth.authenticate(f"Bearer {secret}", now=expiry - timedelta(seconds=1))

    with pytest.raises(Unauthorized, match="expired"):
        await auth.authenticate(f"Bearer {secret}", now=expiry)
    assert counting.reads == 1


async def test_recheck_zero_reads_the_row_on_every_request(store: SqlStore, acme: TenantAccess) -> None:
    auth, counting = _authenticator(store, Clock(), recheck=0)
    await auth.authenticate(f"Bearer {acme.token}")
    await _revoke_elsewhere(store, acme.token_id)

    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 2


async def test_the_secret_is_not_what_is_remembered(store: SqlStore, acme: TenantAccess) -> None:
    auth, _ = _authenticator(store, Clock())
    await auth.authenticate(f"Bearer {acme.token}")

    assert list(auth._known) == [digest(acme.token)]
    assert acme.token not in repr(auth._known)


async def test_unknown_tokens_are_not_remembered_and_read_each_time(store: SqlStore, acme: TenantAccess) -> None:
    auth, counting = _authenticator(store, Clock())
    stranger = mint_token()

    for _ in range(3):
        with pytest.raises(Unauthorized, match="not valid"):
            await auth.authenticate(f"Bearer {stranger}")
    assert counting.reads == 3
    assert auth._known == {}


async def test_the_memory_is_bounded_and_the_token_read_longest_ago_leaves_first(
    store: SqlStore, acme: TenantAccess
) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None and MAX_REMEMBERED >= 10_000
    first, second, third = [(await tenants.issue_token(store, tenant, None))[1] for _ in range(3)]
    counting = CountingStore(store)
    auth = BearerAuthenticator(counting, None, 3600, Clock(), max_remembered=2)  # type: ignore[arg-type]

    for secret in (first, second, third):
        await auth.authenticate(f"Bearer {secret}")
    assert len(auth) == 2
    assert list(auth._known) == [digest(second), digest(third)]

    await auth.authenticate(f"Bearer {third}")  # remembered: no read
    assert counting.reads == 3
    await auth.authenticate(f"Bearer {first}")  # forgotten: read again, and second leaves
    assert counting.reads == 4
    assert list(auth._known) == [digest(third), digest(first)]


async def test_a_forgotten_token_revoked_elsewhere_is_refused(store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    other = (await tenants.issue_token(store, tenant, None))[1]
    auth = BearerAuthenticator(store, None, 3600, Clock(), max_remembered=1)
    await auth.authenticate(f"Bearer {acme.token}")
    await _revoke_elsewhere(store, acme.token_id)
    await auth.authenticate(f"Bearer {other}")  # pushes acme's token out

    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")


async def test_through_the_app_a_revocation_elsewhere_is_refused_within_the_setting(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = create_app(replace(settings, token_recheck_seconds=0.0), store=store)
    async with client_for(app, acme.token) as client:
        assert (await client.get("/Users")).status_code == 200
        await _revoke_elsewhere(store, acme.token_id)
        response = await client.get("/Users")

    assert_scim_error(response, 401)
    assert "revoked" in response.json()["detail"]


async def test_an_interval_that_is_not_a_number_still_rereads(store: SqlStore, acme: TenantAccess) -> None:
    auth, counting = _authenticator(store, Clock(), recheck=float("nan"))  # Settings refuses it; fail safe
    await auth.authenticate(f"Bearer {acme.token}")
    await auth.authenticate(f"Bearer {acme.token}")

    assert counting.reads == 2


def test_the_interval_is_one_second_unless_set() -> None:
    assert Settings().token_recheck_seconds == 1.0
    assert Settings.from_env({"SCIMHUB_TOKEN_RECHECK_SECONDS": "0"}).token_recheck_seconds == 0.0
