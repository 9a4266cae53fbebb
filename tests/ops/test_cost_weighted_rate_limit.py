"""Cost-weighted rate limits: expensive requests spend more of their tenant's budget.

Every request costs one unit when it is admitted. Afterwards a request that ran a query no index
answers is charged a unit per millisecond the query ran, and one whose body is over 16 KiB a unit
per 2 KiB beyond that (``scimhub.workload``), down to what is left of each window: the tenant's
next request then waits, another tenant's does not. Hour windows keep the sequences exact (see
test_rate_limit.py). The deadline case, on 20,000 users, is in tests/query/test_scan_deadline.py.
"""

from __future__ import annotations

import math
import uuid

import orjson
import pytest

from scimhub.ratelimit import RateLimiter
from scimhub.ratelimit import storage_for
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from scimhub.workload import BODY_BYTES_PER_UNIT
from scimhub.workload import FREE_BODY_BYTES
from scimhub.workload import SCAN_SECONDS_PER_UNIT
from scimhub.workload import Metered
from scimhub.workload import Workload
from scimhub.workload import record_body
from scimhub.workload import record_scan
from tests.conftest import TenantAccess
from tests.http.scim_checks import app_with
from tests.http.scim_checks import assert_scim_error
from tests.http.scim_checks import client_for
from tests.http.scim_checks import create_user
from tests.http.scim_checks import snapshot
from tests.http.scim_checks import user_body
from tests.ops.test_rate_limit import assert_rate_limited

pytestmark = pytest.mark.anyio


async def test_a_query_no_index_answers_costs_more_than_an_index_probe(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    """2 units an hour: an existence check costs 1, so a second request passes; a substring filter
    costs 1 plus at least 1 for the time it ran, so the next request waits."""
    app = app_with(settings, store, rate_limit="2/hour")
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        probe = await a.get("/Users", params={"filter": 'userName eq "x"'})
        after_probe = await a.get("/Users", params={"filter": 'userName eq "x"'})
        scan = await g.get("/Users", params={"filter": 'title co "x"'})
        after_scan = await g.get("/Users", params={"filter": 'userName eq "x"'})

    assert (probe.status_code, after_probe.status_code, scan.status_code) == (200, 200, 200)
    assert_rate_limited(after_scan, 3600)


async def test_an_unindexed_sort_is_charged_like_a_scanning_filter(
    settings: Settings, store: SqlStore, acme: TenantAccess, globex: TenantAccess
) -> None:
    app = app_with(settings, store, rate_limit="2/hour")
    async with client_for(app, acme.token) as a, client_for(app, globex.token) as g:
        by_user_name = await a.get("/Users", params={"sortBy": "userName"})  # the index's order
        after_indexed = await a.get("/Users")
        by_title = await g.get("/Users", params={"sortBy": "title"})
        after_unindexed = await g.get("/Users")

    assert (by_user_name.status_code, after_indexed.status_code, by_title.status_code) == (200, 200, 200)
    assert_rate_limited(after_unindexed, 3600)


def _padded_user(user_name: str, body_bytes: int) -> bytes:
    """A create whose body is exactly ``body_bytes`` long (the padding is the title)."""
    empty = orjson.dumps(user_body(user_name, title=""))
    return orjson.dumps(user_body(user_name, title="x" * (body_bytes - len(empty))))


async def test_a_large_body_costs_a_unit_per_2_kib_over_16_kib(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    body = _padded_user("bjensen", 50_000)
    extra = math.ceil((50_000 - FREE_BODY_BYTES) / BODY_BYTES_PER_UNIT)  # 17
    app = app_with(settings, store, rate_limit=f"{1 + extra + 2}/hour")
    headers = {"Content-Type": "application/scim+json"}
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", content=body, headers=headers)
        statuses = [(await client.get("/Users")).status_code for _ in range(2)]
        limited = await client.get("/Users")

    assert (len(body), extra) == (50_000, 17)
    assert created.status_code == 201, created.text
    assert statuses == [200, 200]
    assert_rate_limited(limited, 3600)


async def test_a_body_of_16_kib_costs_one_unit(settings: Settings, store: SqlStore, acme: TenantAccess) -> None:
    app = app_with(settings, store, rate_limit="3/hour")
    headers = {"Content-Type": "application/scim+json"}
    async with client_for(app, acme.token) as client:
        created = await client.post("/Users", content=_padded_user("bjensen", FREE_BODY_BYTES), headers=headers)
        statuses = [(await client.get("/Users")).status_code for _ in range(2)]
        limited = await client.get("/Users")

    assert created.status_code == 201, created.text
    assert statuses == [200, 200]
    assert_rate_limited(limited, 3600)


async def test_a_refused_large_write_is_charged_too_and_changes_nothing(
    settings: Settings, store: SqlStore, acme: TenantAccess
) -> None:
    """The body was read (the work was done) before the create was refused as a duplicate."""
    async with client_for(app_with(settings, store, rate_limit=""), acme.token) as unlimited:
        await create_user(unlimited, "bjensen")
        before = await snapshot(unlimited)
    app = app_with(settings, store, rate_limit="19/hour")  # 1 + 17 + 1
    headers = {"Content-Type": "application/scim+json"}
    async with client_for(app, acme.token) as client:
        refused = await client.post("/Users", content=_padded_user("bjensen", 50_000), headers=headers)
        allowed = await client.get("/Users")
        limited = await client.get("/Users")
    async with client_for(app_with(settings, store, rate_limit=""), acme.token) as unlimited:
        after = await snapshot(unlimited)

    assert_scim_error(refused, 409, "uniqueness")
    assert allowed.status_code == 200
    assert_rate_limited(limited, 3600)
    assert after == before


# -- the pieces ----------------------------------------------------------------------------------
def test_a_workload_is_charged_a_unit_per_millisecond_of_scan_and_per_2_kib_of_body() -> None:
    assert Workload().extra_units() == 0
    assert Workload(body_bytes=FREE_BODY_BYTES).extra_units() == 0
    assert Workload(body_bytes=FREE_BODY_BYTES + 1).extra_units() == 1
    assert Workload(body_bytes=FREE_BODY_BYTES + 2 * BODY_BYTES_PER_UNIT).extra_units() == 2
    assert Workload(scan_seconds=0.0001).extra_units() == 1  # any scan costs at least one unit
    assert Workload(scan_seconds=0.5).extra_units() == round(0.5 / SCAN_SECONDS_PER_UNIT) == 500
    assert Workload(scan_seconds=0.5, body_bytes=FREE_BODY_BYTES + 1).extra_units() == 501


def test_work_is_recorded_only_inside_a_metered_request() -> None:
    record_scan(1.0)  # no request: dropped
    record_body(10**6)
    with Metered() as workload:
        record_scan(0.002)
        record_body(100)
        with Metered() as inner:  # a request inside a request (a mounted app) meters its own
            record_scan(0.001)
    record_scan(1.0)

    assert (workload.scan_seconds, workload.body_bytes) == (0.002, 100)
    assert inner.scan_seconds == 0.001


async def test_a_charge_spends_what_is_left_and_is_never_refused() -> None:
    limiter = RateLimiter("10/hour")
    assert (await limiter.check("t", "k")).allowed  # 1 of 10

    await limiter.charge("t", "k", 1000)  # more than is left: spends the rest, raises nothing
    await limiter.charge("t", "k", 5)  # nothing left: does nothing

    assert not (await limiter.check("t", "k")).allowed
    assert (await limiter.check("other-tenant", "other-token")).allowed


async def test_a_charge_spends_the_token_budget_and_a_tenants_own_limit() -> None:
    limiter = RateLimiter("100/hour")
    assert (await limiter.check("t", "k", "3/hour")).allowed
    await limiter.charge("t", "k", 1, "3/hour")  # 2 of the tenant's 3

    assert (await limiter.check("t", "k", "3/hour")).allowed
    assert not (await limiter.check("t", "k", "3/hour")).allowed
    assert not (await limiter.check("t2", "k", "3/hour")).allowed  # the token's budget is spent too


async def test_a_charge_over_redis_spends_the_shared_budget(redis_url: str) -> None:
    tenant = f"tenant-{uuid.uuid4()}"  # Redis outlives the test: a key of its own
    limiter = RateLimiter("5/hour", storage_for(redis_url))
    other = RateLimiter("5/hour", storage_for(redis_url))  # another instance, the same counters
    try:
        assert (await limiter.check(tenant, tenant)).allowed
        await limiter.charge(tenant, tenant, 4)
        assert not (await other.check(tenant, tenant)).allowed
    finally:
        await limiter.close()
        await other.close()
