"""Roles from groups: what a member change costs when a rule names the group, and what a rule
change and a 50,000-member PATCH cost, calling the ASGI app directly (as bench.asgi_hotpath).

Usage: python -m bench.roles [--users 100000] [--changes 2000] [--bulk 50000] [--db postgresql]

Two groups hold the same ``--users`` members: "Staff", which a rule names (``scimhub role map
TENANT staff --group Staff``), and "Crowd", which no rule names. One-member adds and removes (Entra's
add, Okta's remove; users outside both groups) alternate between the two groups, so the ratio
named / unnamed comes from one run. The same changes on "Crowd" before any rule exists are the
baseline (what a member change cost before roles). Then: the recompute after the rule (every
user, a batch a transaction), and one PATCH adding ``--bulk`` members to a named and to an
unnamed group.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path

import orjson

from bench import postgres
from bench.asgi_hotpath import Caller
from bench.payloads import CORE_GROUP
from bench.payloads import entra_add_members
from bench.payloads import okta_remove_member
from bench.seed import TENANT
from bench.seed import seed
from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.protocol.roles import RoleService
from scimhub.settings import Settings
from scimhub.store.factory import open_store
from scimhub.store.roles_sql import RoleStore
from scimhub.store.sql import SqlStore

GROUPS = "/scim/v2/Groups"
CHUNK = 50_000  # members a request may name (SCIMHUB_MAX_MEMBERS_PER_REQUEST's default)


async def timed(calls: list[Callable[[], Awaitable[int]]]) -> tuple[float, float]:
    """Wall and CPU µs per call."""
    started, cpu = time.perf_counter(), time.process_time()
    for call in calls:
        assert await call() in (200, 204), "a member change failed"
    n = len(calls)
    return (time.perf_counter() - started) / n * 1e6, (time.process_time() - cpu) / n * 1e6


def one_member_changes(call: Caller, group: str, extra: list[str]) -> list[Callable[[], Awaitable[int]]]:
    bodies = [orjson.dumps(b) for i in extra for b in (entra_add_members([i]), okta_remove_member(i))]
    return [lambda b=b: call("PATCH", f"{GROUPS}/{group}", body=b) for b in bodies]  # type: ignore[misc]


async def make_group(call: Caller, name: str, members: list[str]) -> str:
    """A group, then its members by PATCHes of CHUNK (a POST counts them into the 1 MB resource cap)."""
    sink: list[bytes] = []
    status = await call("POST", GROUPS, body=orjson.dumps({"schemas": [CORE_GROUP], "displayName": name}), sink=sink)
    assert status == 201, b"".join(sink)[:500]
    group: str = orjson.loads(b"".join(sink))["id"]
    for start in range(0, len(members), CHUNK):
        body = orjson.dumps(entra_add_members(members[start : start + CHUNK]))
        assert await call("PATCH", f"{GROUPS}/{group}", body=body) == 204
    return group


async def run(args: argparse.Namespace) -> None:
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, "scimhub_roles")
        try:
            await measure(args, url)
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        await measure(args, f"sqlite:///{Path(tempfile.mkdtemp()) / 'roles.db'}")


async def measure(args: argparse.Namespace, url: str) -> None:
    settings = Settings(database_url=url, rate_limit="", log_level="WARNING", request_log_size=0)
    store = open_store(settings)
    await store.db.upgrade()
    tenant = await tenants.create_tenant(store, TENANT)
    _, token = await tenants.issue_token(store, tenant, None)
    await store.close()
    started = time.perf_counter()
    extra = args.changes // 2
    ids = await asyncio.to_thread(
        lambda: asyncio.run(seed(url, "http://bench/scim/v2", 0, args.users + extra + args.bulk, 2000))
    )
    print(f"seeded {len(ids):,} users in {time.perf_counter() - started:.0f} s")
    members, others, bulk = ids[: args.users], ids[args.users : args.users + extra], ids[args.users + extra :]
    store = open_store(settings)
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        await scenarios(args, store, tenant.id, Caller(app, token), members, others, bulk, url)


async def scenarios(
    args: argparse.Namespace,
    store: SqlStore,
    tenant_id: str,
    call: Caller,
    members: list[str],
    others: list[str],
    bulk: list[str],
    url: str,
) -> None:
    started = time.perf_counter()
    staff = await make_group(call, "Staff", members)
    crowd = await make_group(call, "Crowd", members)
    print(f"two groups of {len(members):,} members in {time.perf_counter() - started:.0f} s", flush=True)
    if store.db.name == "postgresql":
        await postgres.analyze(url)  # as autovacuum would after the bulk load
    half = len(others) // 2
    before = await timed(one_member_changes(call, crowd, others[:half]))
    report("one-member add/remove, no rule at all (before roles)", before)

    roles = RoleService(store, RoleStore(store.db))
    started = time.perf_counter()
    await roles.map(tenant_id, "staff", "group", "Staff")
    status = await roles.finish(tenant_id)
    took = time.perf_counter() - started
    assert status is not None and status.finished_at is not None
    print(
        f"rule naming Staff: recompute of {status.done:,} users ({status.changed:,} changed, one event each) "
        f"in {took:.1f} s ({status.done / took:,.0f} users/s)"
    )

    named_calls = one_member_changes(call, staff, others[half:])
    unnamed_calls = one_member_changes(call, crowd, others[half:])
    named, unnamed = [0.0, 0.0], [0.0, 0.0]
    rounds = 4
    size = len(named_calls) // rounds
    for r in range(rounds):  # alternated, so that both see the same machine
        for calls, total in ((unnamed_calls, unnamed), (named_calls, named)):
            wall, cpu = await timed(calls[r * size : (r + 1) * size])
            total[0] += wall / rounds
            total[1] += cpu / rounds
    report("one-member add/remove, group no rule names", (unnamed[0], unnamed[1]))
    report("one-member add/remove, group a rule names", (named[0], named[1]))
    print(
        f"ratio named / unnamed: {named[0] / unnamed[0]:.2f}x wall, {named[1] / unnamed[1]:.2f}x CPU; "
        f"unnamed / before roles: {unnamed[0] / before[0]:.2f}x wall, {unnamed[1] / before[1]:.2f}x CPU"
    )
    if bulk:
        await bulk_patch(call, roles, tenant_id, bulk)


async def bulk_patch(call: Caller, roles: RoleService, tenant_id: str, users: list[str]) -> None:
    await roles.map(tenant_id, "bulk", "group", "Bulk named")
    await roles.finish(tenant_id)
    results, groups = {}, {}
    for name in ("Bulk plain", "Bulk named"):
        group = groups[name] = await make_group(call, name, [])
        body = orjson.dumps(entra_add_members(users))
        started, cpu = time.perf_counter(), time.process_time()
        assert await call("PATCH", f"{GROUPS}/{group}", body=body) == 204
        results[name] = (time.perf_counter() - started, time.process_time() - cpu)
        wall, cpu = results[name]
        print(f"one PATCH adding {len(users):,} members to {name!r}: {wall:.2f} s ({cpu:.2f} s CPU)")
    ratio = results["Bulk named"][0] / results["Bulk plain"][0]
    print(
        f"ratio named / plain: {ratio:.2f}x (named: {len(users):,} user.roles_changed events in the same transaction)"
    )
    for name, group in groups.items():  # a named group's members lose its role in the delete's transaction
        started, cpu = time.perf_counter(), time.process_time()
        assert await call("DELETE", f"{GROUPS}/{group}") == 204
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"DELETE {name!r} ({len(users):,} members): {wall:.2f} s ({cpu:.2f} s CPU)")


def report(label: str, figures: tuple[float, float]) -> None:
    print(f"{label}: {figures[0]:,.0f} µs per request, {figures[1]:,.0f} µs CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000, help="members of each of the two big groups")
    parser.add_argument("--changes", type=int, default=2000, help="one-member changes on each group")
    parser.add_argument("--bulk", type=int, default=50_000, help="members one PATCH adds (0: skip)")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
