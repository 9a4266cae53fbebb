"""Thousands of quiet tenants: the per-process caches stay bounded, the last-use writes are
batched, and none of it delays a revocation or a settings change beyond its documented bound."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any

import pytest
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy import update

from scimhub.app import create_app
from scimhub.auth.bearer import BearerAuthenticator
from scimhub.policy import Policy
from scimhub.protocol import tenants
from scimhub.protocol.tenant_config import MAX_CACHED
from scimhub.protocol.tenant_config import MAX_LISTED
from scimhub.protocol.tenant_config import TenantConfigCache
from scimhub.ratelimit import MemoryStorage
from scimhub.ratelimit import RateLimiter
from scimhub.settings import Settings
from scimhub.store import request_log_sql
from scimhub.store.request_log_sql import LoggedRequest
from scimhub.store.request_log_sql import RequestLogStore
from scimhub.store.sql import SqlStore
from scimhub.store.tables import request_log
from scimhub.store.tables import tokens
from tests.http.scim_checks import client_for

if TYPE_CHECKING:
    from tests.conftest import TenantAccess

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _last_used(store: SqlStore, tenant_id: str, token_id: str) -> str | None:
    (record,) = [t for t in await store.list_tokens(tenant_id) if t.id == token_id]
    return record.last_used_at


# -- the tenant config cache --------------------------------------------------------------------
async def test_the_config_cache_keeps_at_most_its_bound_and_rereads_a_forgotten_tenant(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    assert MAX_CACHED >= 10_000
    clock = Clock()
    cache = TenantConfigCache(store, Policy(), clock=clock, max_cached=1)
    await store.set_tenant_setting(acme.tenant_id, "rate_limit", "5/hour")
    assert (await cache.get(acme.tenant_id)).rate_limit == "5/hour"
    await cache.get(globex.tenant_id)  # acme's leaves
    assert len(cache) == 1

    await store.set_tenant_setting(acme.tenant_id, "rate_limit", "7/hour")  # as another process would
    config = await cache.get(acme.tenant_id)  # read again, not the forgotten copy

    assert config.rate_limit == "7/hour"
    assert len(cache) == 1


async def test_tenants_without_settings_share_one_config_and_a_setting_still_arrives_within_the_ttl(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    clock = Clock()
    cache = TenantConfigCache(store, Policy(), clock=clock)
    plain_acme, plain_globex = await cache.get(acme.tenant_id), await cache.get(globex.tenant_id)
    assert plain_acme is plain_globex
    assert plain_acme.rate_limit is None and plain_acme.policy == Policy()

    await store.set_tenant_setting(globex.tenant_id, "policy.string_booleans", "off")
    clock.now += cache.ttl - 0.5
    assert (await cache.get(globex.tenant_id)).policy.string_booleans is True  # cached: within the ttl
    clock.now += 1
    changed = await cache.get(globex.tenant_id)

    assert changed.policy.string_booleans is False
    assert (await cache.get(acme.tenant_id)) is plain_acme


def _count_reads(monkeypatch: pytest.MonkeyPatch, store: SqlStore) -> dict[str, int]:
    """Counts the config cache's reads of the store, by method."""
    counts = {"configured_tenants": 0, "tenant_settings": 0, "declared_schemas": 0}
    for name in counts:
        method = getattr(store, name)

        async def counted(*args: Any, _method: Any = method, _name: str = name) -> Any:
            counts[_name] += 1
            return await _method(*args)

        monkeypatch.setattr(store, name, counted)
    return counts


async def test_a_tenant_with_no_settings_or_schemas_costs_no_read_of_its_own(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.set_tenant_setting(globex.tenant_id, "rate_limit", "7/hour")
    reads = _count_reads(monkeypatch, store)
    cache = TenantConfigCache(store, Policy(), clock=Clock())
    quiet = [(await tenants.create_tenant(store, f"quiet-{i}")).id for i in range(20)]

    configs = [await cache.get(tenant_id) for tenant_id in (*quiet, acme.tenant_id, globex.tenant_id)]

    assert all(config.rate_limit is None for config in configs[:-1])
    assert configs[-1].rate_limit == "7/hour"
    # One listing for all 22 tenants; only globex, which it names, read its own settings and schemas.
    assert reads == {"configured_tenants": 1, "tenant_settings": 1, "declared_schemas": 1}


async def test_a_default_config_is_dated_from_the_listing_so_a_new_setting_arrives_within_the_ttl(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    clock = Clock()
    cache = TenantConfigCache(store, Policy(), clock=clock)
    await cache.get(acme.tenant_id)  # lists the configured tenants at 1000: globex is not one
    clock.now += cache.ttl - 1
    assert (await cache.get(globex.tenant_id)).rate_limit is None  # from that listing, 9 s old

    await store.set_tenant_setting(globex.tenant_id, "rate_limit", "7/hour")
    clock.now += 1.5  # the listing's ttl has passed, though globex's config was taken 1.5 s ago

    assert (await cache.get(globex.tenant_id)).rate_limit == "7/hour"


async def test_past_max_listed_configured_tenants_each_tenant_reads_its_own_config(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert MAX_LISTED >= 1_000
    await store.set_tenant_setting(acme.tenant_id, "rate_limit", "5/hour")
    await store.set_tenant_setting(globex.tenant_id, "rate_limit", "7/hour")
    quiet = await tenants.create_tenant(store, "quiet")
    reads = _count_reads(monkeypatch, store)
    cache = TenantConfigCache(store, Policy(), clock=Clock(), max_listed=1)

    limits = [(await cache.get(t)).rate_limit for t in (acme.tenant_id, globex.tenant_id, quiet.id)]

    assert limits == ["5/hour", "7/hour", None]
    assert reads == {"configured_tenants": 1, "tenant_settings": 3, "declared_schemas": 3}


# -- tokens' last use ---------------------------------------------------------------------------
async def test_started_last_use_writes_wait_for_the_flush_and_go_in_one_batch(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    auth = BearerAuthenticator(store, None, 1.0, Clock(), flush_seconds=3600)
    auth.start()
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        await auth.authenticate(f"Bearer {acme.token}")
        await auth.authenticate(f"Bearer {globex.token}")
        assert auth.waiting == 2
        assert await _last_used(store, acme.tenant_id, acme.token_id) is None

        await auth.flush()

        assert auth.waiting == 0
        for access in (acme, globex):
            recorded = await _last_used(store, access.tenant_id, access.token_id)
            assert recorded is not None and before <= datetime.fromisoformat(recorded) <= datetime.now(UTC)
    finally:
        await auth.stop()


async def test_the_flusher_writes_within_its_interval_and_stop_writes_what_is_left(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    auth = BearerAuthenticator(store, None, 1.0, Clock(), flush_seconds=0.05)
    auth.start()
    await auth.authenticate(f"Bearer {acme.token}")
    for _ in range(100):
        if await _last_used(store, acme.tenant_id, acme.token_id) is not None:
            break
        await asyncio.sleep(0.02)
    assert await _last_used(store, acme.tenant_id, acme.token_id) is not None

    auth.flush_seconds = 3600  # the next flush would come only at stop()
    await asyncio.sleep(0.1)  # the running sleep (0.05 s) ends, a long one starts
    await auth.authenticate(f"Bearer {globex.token}")
    await auth.stop()

    assert await _last_used(store, globex.tenant_id, globex.token_id) is not None
    assert auth.waiting == 0


async def test_through_the_apps_lifespan_a_request_records_last_use_by_shutdown(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        async with client_for(app, acme.token) as client:
            assert (await client.get("/Users")).status_code == 200

    assert await _last_used(store, acme.tenant_id, acme.token_id) is not None


async def test_a_late_flush_never_moves_last_use_backwards(store: SqlStore, acme: TenantAccess) -> None:
    newer = datetime.now(UTC).replace(microsecond=0)
    older = newer - timedelta(minutes=5)

    await store.touch_tokens([(acme.token_id, newer.isoformat())])
    await store.touch_tokens([(acme.token_id, older.isoformat())])  # another instance, flushing late

    assert await _last_used(store, acme.tenant_id, acme.token_id) == newer.isoformat()


async def test_a_failed_flush_keeps_the_times_for_the_next_one(
    store: SqlStore, acme: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    auth = BearerAuthenticator(store, None, 1.0, Clock(), flush_seconds=3600)
    auth.start()
    try:
        await auth.authenticate(f"Bearer {acme.token}")

        async def failing(touches: object) -> None:
            raise OSError("database gone")

        monkeypatch.setattr(store, "touch_tokens", failing)
        with pytest.raises(OSError, match="database gone"):
            await auth.flush()
        assert auth.waiting == 1
        monkeypatch.undo()
    finally:
        await auth.stop()

    assert auth.waiting == 0
    assert await _last_used(store, acme.tenant_id, acme.token_id) is not None


async def test_a_revocation_elsewhere_is_still_refused_within_the_recheck_while_batching(
    store: SqlStore, acme: TenantAccess
) -> None:
    clock = Clock()
    auth = BearerAuthenticator(store, None, 1.0, clock, flush_seconds=3600)
    auth.start()
    try:
        await auth.authenticate(f"Bearer {acme.token}")
        async with store.db.write() as tx:  # `scimhub token revoke` in its own process
            await tx.execute(
                update(tokens).where(tokens.c.id == acme.token_id).values(revoked_at=datetime.now(UTC).isoformat())
            )
        clock.now += 1.0
        with pytest.raises(Exception, match="revoked"):
            await auth.authenticate(f"Bearer {acme.token}")
    finally:
        await auth.stop()


# -- rate-limit counters ------------------------------------------------------------------------
async def test_rate_limit_counters_of_quiet_tenants_leave_once_their_windows_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])  # the one clock of limits' windows and ours
    storage = MemoryStorage()
    limiter = RateLimiter("2/second", storage)

    for tenant in range(200):
        assert (await limiter.check(f"t{tenant}", f"k{tenant}")).allowed
    assert storage.counters == 400  # a tenant's and a token's counter each

    now[0] += 10  # every window passed; each hit drops a few due counters
    for _ in range(60):
        assert (await limiter.check("busy", "busy-token")).allowed
        now[0] += 1

    assert storage.counters <= 10


async def test_a_quiet_tenants_limit_still_holds_within_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    storage = MemoryStorage()
    limiter = RateLimiter("3/hour", storage)
    for tenant in range(50):
        await limiter.check(f"quiet{tenant}", f"token{tenant}")

    verdicts = [(await limiter.check("acme", "acme-token")).allowed for _ in range(4)]

    assert verdicts == [True, True, True, False]


# -- the request log ----------------------------------------------------------------------------
async def test_one_flush_trims_every_tenant_it_holds_to_its_newest_rows(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    log = RequestLogStore(store.db, keep=3)
    at = datetime.now(UTC).isoformat()

    def entry(tenant_id: str, n: int) -> LoggedRequest:
        return LoggedRequest(tenant_id, at, f"r{n}", None, "GET", f"/Users/{n}", None, 200, 1, None, None, None)

    await log.append([entry(t, n) for n in range(5) for t in (acme.tenant_id, globex.tenant_id)])
    await log.append([entry(acme.tenant_id, 5)])

    assert [e["path"] for e in await log.recent(acme.tenant_id, 10)] == ["/Users/5", "/Users/4", "/Users/3"]
    assert [e["path"] for e in await log.recent(globex.tenant_id, 10)] == ["/Users/4", "/Users/3", "/Users/2"]


def _entry(tenant_id: str, n: int, status: int = 200) -> LoggedRequest:
    at = datetime.now(UTC).isoformat()
    return LoggedRequest(tenant_id, at, f"r{n}", None, "GET", f"/Users/{n}", None, status, 1, None, None, None)


async def test_a_quiet_tenant_is_trimmed_once_per_tenth_of_the_log_not_at_every_flush(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    log = RequestLogStore(store.db, keep=20)  # trimmed every 2 appended entries
    trims: list[str] = []
    store.db.observers.append(lambda sql, _: trims.append(sql) if sql.lstrip().startswith("DELETE") else None)

    for n in range(30):  # thirty flushes holding one entry of acme and one of globex each
        await log.append([_entry(acme.tenant_id, n), _entry(globex.tenant_id, n)])

    assert len(trims) == 30  # both tenants at every second flush (a trim is observed per tenant): not 60
    assert [e["path"] for e in await log.recent(acme.tenant_id, 100)] == [f"/Users/{n}" for n in range(29, 9, -1)]


async def test_the_log_shows_only_the_newest_keep_rows_while_older_ones_wait_for_a_trim(
    store: SqlStore, acme: TenantAccess
) -> None:
    log = RequestLogStore(store.db, keep=20)
    await log.append([_entry(acme.tenant_id, 0, status=409)])
    for n in range(1, 21):
        await log.append([_entry(acme.tenant_id, n)])  # the 21st append is not due for a trim

    async with store.db.read() as tx:
        held = (await tx.execute(select(func.count()).select_from(request_log))).scalar()
    assert held == 21  # the failed request is still in the table, past the newest 20
    assert await log.recent(acme.tenant_id, 100, failed_only=True) == []
    assert len(await log.recent(acme.tenant_id, 100)) == 20
    assert [e["status"] for e in await RequestLogStore(store.db, keep=0).recent(acme.tenant_id, 100, True)] == [409]


async def test_a_store_tracking_too_many_tenants_trims_them_all(
    store: SqlStore, acme: TenantAccess, globex: TenantAccess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(request_log_sql, "MAX_TRACKED", 1)
    log = RequestLogStore(store.db, keep=20)
    await log.append([_entry(acme.tenant_id, 0)])
    await log.append([_entry(globex.tenant_id, 0)])  # two tenants tracked: both trimmed now

    assert log._untrimmed == {}


async def test_many_tenants_each_keep_their_own_token_and_data(settings: Settings, store: SqlStore) -> None:
    app = create_app(settings, store=store)
    accesses = []
    for i in range(30):
        tenant = await tenants.create_tenant(store, f"quiet-{i}")
        accesses.append((tenant.id, (await tenants.issue_token(store, tenant, None))[1]))
    async with app.router.lifespan_context(app):
        for i, (_, token) in enumerate(accesses):
            async with client_for(app, token) as client:
                created = await client.post(
                    "/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"u{i}"}
                )
                assert created.status_code == 201
        for i, (_, token) in enumerate(accesses):
            async with client_for(app, token) as client:
                listed = (await client.get("/Users")).json()
            assert [r["userName"] for r in listed["Resources"]] == [f"u{i}"]
