"""A remembered token's row is read again when a token changed: through this store at once (it
counts its own changes), through another process once the database's count of token changes
(triggers on tokens, polled at most every token_recheck_seconds) has moved."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import delete
from sqlalchemy import update
from sqlalchemy.sql import Executable

from scimhub.app import create_app
from scimhub.auth.bearer import MAX_REMEMBERED
from scimhub.auth.bearer import MAX_TRUSTED_SECONDS
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
    """The real store, counting the token rows read and the polls of the database's count."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.reads = 0
        self.polls = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        self.reads += 1
        return await self.store.token_by_digest(digest)

    async def token_change_count(self) -> int | None:
        self.polls += 1
        return await self.store.token_change_count()


async def _revoke_elsewhere(store: SqlStore, token_id: str) -> None:
    """What `scimhub token revoke` does from its own process: this store's count does not move."""
    async with store.db.write() as tx:
        await tx.execute(update(tokens).where(tokens.c.id == token_id).values(revoked_at="2026-01-01T00:00:00+00:00"))


def _authenticator(store: SqlStore, clock: Clock, recheck: float = 1.0) -> tuple[BearerAuthenticator, CountingStore]:
    counting = CountingStore(store)
    return BearerAuthenticator(counting, None, recheck, clock), counting  # type: ignore[arg-type]


async def test_a_token_row_is_read_once_while_no_token_changes(store: SqlStore, acme: TenantAccess) -> None:
    clock = Clock()
    auth, counting = _authenticator(store, clock)

    for _ in range(5):
        assert (await auth.authenticate(f"Bearer {acme.token}")).tenant_id == acme.tenant_id
    assert (counting.reads, counting.polls) == (1, 1)

    for _ in range(59):  # a request a second: the count is polled, the row is not read
        clock.now += 1.0
        await auth.authenticate(f"Bearer {acme.token}")
    assert (counting.reads, counting.polls) == (1, 60)

    clock.now += 1.0  # MAX_TRUSTED_SECONDS after the row was read: read again all the same
    await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 2
    assert MAX_TRUSTED_SECONDS == 60.0


async def test_many_tokens_cost_one_poll_an_interval(store: SqlStore, acme: TenantAccess) -> None:
    tenant = await store.tenant_by_name("acme")
    assert tenant is not None
    secrets = [acme.token] + [(await tenants.issue_token(store, tenant, None))[1] for _ in range(4)]
    clock = Clock()
    auth, counting = _authenticator(store, clock)
    for secret in secrets:
        await auth.authenticate(f"Bearer {secret}")

    clock.now += 1.0
    for secret in secrets:
        await auth.authenticate(f"Bearer {secret}")
    assert (counting.reads, counting.polls) == (5, 2)


async def test_last_use_writes_do_not_move_the_count(store: SqlStore, acme: TenantAccess) -> None:
    clock = Clock()
    auth, counting = _authenticator(store, clock)
    before = await store.token_change_count()
    await auth.authenticate(f"Bearer {acme.token}")
    await store.touch_tokens([(acme.token_id, "2030-01-01T00:00:00+00:00")])

    clock.now += 1.0
    await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 1
    assert await store.token_change_count() == before


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


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda token_id: update(tokens).where(tokens.c.id == token_id).values(expires_at="2026-01-01"), "expired"),
        (lambda token_id: delete(tokens).where(tokens.c.id == token_id), "not valid"),
    ],
    ids=["expiry", "deletion"],  # the expiry without an offset, as SQL written by hand may set it: UTC
)
async def test_an_expiry_or_a_deletion_by_another_process_is_honoured_after_the_interval(
    store: SqlStore, acme: TenantAccess, change: Callable[[str], Executable], refusal: str
) -> None:
    clock = Clock()
    auth, _ = _authenticator(store, clock)
    await auth.authenticate(f"Bearer {acme.token}")
    async with store.db.write() as tx:
        await tx.execute(change(acme.token_id))

    clock.now += 1.0
    with pytest.raises(Unauthorized, match=refusal):
        await auth.authenticate(f"Bearer {acme.token}")


class RevokingAfterRead(CountingStore):
    """Another process revokes the token right after this one read its row (before it is remembered)."""

    def __init__(self, store: SqlStore, token_id: str) -> None:
        super().__init__(store)
        self.token_id = token_id

    async def token_by_digest(self, digest: str) -> TokenRecord | None:
        record = await super().token_by_digest(digest)
        if self.reads == 1:
            await _revoke_elsewhere(self.store, self.token_id)
        return record


async def test_a_revocation_committed_just_after_the_row_was_read_is_still_caught(
    store: SqlStore, acme: TenantAccess
) -> None:
    """The count a row is remembered with is the one read before the row: a change committed
    between the two moves the count past it."""
    clock = Clock()
    racing = RevokingAfterRead(store, acme.token_id)
    auth = BearerAuthenticator(racing, None, 1.0, clock)  # type: ignore[arg-type]
    await auth.authenticate(f"Bearer {acme.token}")  # the row read was not revoked yet

    clock.now += 1.0
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")


class WithoutCount(CountingStore):
    async def token_change_count(self) -> int | None:
        self.polls += 1
        return None


async def test_without_the_database_count_each_token_is_reread_every_interval(
    store: SqlStore, acme: TenantAccess
) -> None:
    clock = Clock()
    counting = WithoutCount(store)
    auth = BearerAuthenticator(counting, None, 1.0, clock)  # type: ignore[arg-type]
    await auth.authenticate(f"Bearer {acme.token}")
    await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 1

    await _revoke_elsewhere(store, acme.token_id)
    clock.now += 1.0
    with pytest.raises(Unauthorized, match="revoked"):
        await auth.authenticate(f"Bearer {acme.token}")
    assert counting.reads == 2


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
