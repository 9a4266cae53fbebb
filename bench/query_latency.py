"""Query latency on one large tenant: p50 of lookups, scans, cursor pages and index pages.

Seeds N users into a temporary SQLite database through the store's own unit of work (the same
``index_keys`` as ``POST /Users``: k_* columns and resource_values rows), committed in batches,
then times requests through the real ASGI app in-process (auth, search, render, JSON; no
network). Prints a Markdown table.

    python -m bench.query_latency                 # 100000 users
    python -m bench.query_latency --users 20000 --page 100 --min-runs 5
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shlex
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from sqlalchemy import text

from bench import postgres
from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.protocol.resources import new_id
from scimhub.schema.registry import default_registry
from scimhub.settings import Settings
from scimhub.store.base import StoredResource
from scimhub.store.factory import open_store
from scimhub.store.index_plan import index_keys
from scimhub.store.sql import SqlStore
from scimhub.timestamps import utc_now

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM = "http://testserver/scim/v2"


def user_doc(i: int) -> dict[str, Any]:
    """A canonical stored document (what validate_resource makes of a typical IdP create)."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": f"user{i:07d}@example.com",
        "externalId": f"ext-{i:07d}",
        "displayName": f"User {i}",
        "name": {"givenName": f"Given{i % 997}", "familyName": f"Family{i % 1009}"},
        "title": ("Engineer", "Manager", "Analyst")[i % 3],
        "active": i % 10 != 0,
        "emails": [{"value": f"user{i:07d}@example.com", "type": "work", "primary": True}],
    }


async def seed(store: SqlStore, tenant_id: str, users: int, batch: int) -> float:
    registry = default_registry()
    rtype = registry.resource_type("User")
    started = time.perf_counter()
    for start in range(0, users, batch):
        async with store.unit_of_work(tenant_id) as uow:
            for i in range(start, min(users, start + batch)):
                doc = user_doc(i)
                now = utc_now()
                await uow.insert(
                    StoredResource(new_id(), "User", doc, now, now, 1), index_keys(doc, rtype, registry.common)
                )
    return time.perf_counter() - started


@dataclass
class Result:
    name: str
    request: str
    p50_ms: float
    runs: int
    rows: int
    total: int


async def measure(
    name: str,
    request: str,
    call: Callable[[], Awaitable[httpx2.Response]],
    min_runs: int,
    budget_s: float,
) -> Result:
    response = await call()  # warm-up (and a correctness check)
    assert response.status_code == 200, response.text
    body = response.json()
    samples: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(samples) < min_runs or (time.perf_counter() < deadline and len(samples) < 500):
        t0 = time.perf_counter()
        response = await call()
        samples.append(time.perf_counter() - t0)
        assert response.status_code == 200, response.text
    return Result(
        name, request, statistics.median(samples) * 1000, len(samples), len(body["Resources"]), body["totalResults"]
    )


async def last_cursor(client: httpx2.AsyncClient, page: int) -> tuple[str, int, float]:
    """Walk every cursor page; returns the cursor of the last page, the page count and the walk time."""
    started = time.perf_counter()
    body = (await client.get("/Users", params={"cursor": "", "count": page})).json()
    cursor, pages = "", 1
    while "nextCursor" in body:
        cursor = body["nextCursor"]
        body = (await client.get("/Users", params={"cursor": cursor, "count": page})).json()
        pages += 1
    return cursor, pages, time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    workdir = Path(args.db_dir or tempfile.mkdtemp(prefix="scimhub-bench-"))
    path = workdir / "latency.db"
    if args.postgres_url:
        database_url = await postgres.create_database(args.postgres_url, "scimhub_latency")
    else:
        path.unlink(missing_ok=True)
        database_url = f"sqlite:///{path}"
    settings = Settings(database_url=database_url, rate_limit="")
    store = open_store(settings)
    try:
        await _run(args, settings, store, path)
    finally:
        await store.close()
        if args.postgres_url:
            await postgres.drop_database(args.postgres_url, database_url)


async def _run(args: argparse.Namespace, settings: Settings, store: SqlStore, path: Path) -> None:
    await store.db.upgrade()
    app = create_app(settings, store=store)
    tenant = await tenants.create_tenant(store, "bench")
    _record, token = await tenants.issue_token(store, tenant, None)
    seed_s = await seed(store, tenant.id, args.users, args.batch)
    await store.maintain()  # planner statistics, as the server's upkeep task takes them
    size_mb = path.stat().st_size / 1e6 if not args.postgres_url else 0.0

    n, page = args.users, args.page
    middle = n // 2
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(
        transport=transport, base_url=SCIM, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        cursor, pages, walk_s = await last_cursor(client, page)

        def get(**params: Any) -> Callable[[], Awaitable[httpx2.Response]]:
            return lambda: client.get("/Users", params=params)

        cases: list[tuple[str, dict[str, Any]]] = [
            ("indexed userName eq", {"filter": f'userName eq "USER{middle:07d}@EXAMPLE.COM"'}),
            ("indexed externalId eq", {"filter": f'externalId eq "ext-{middle:07d}"'}),
            ("indexed emails.value eq", {"filter": f'emails.value eq "user{middle:07d}@example.com"'}),
            (
                "userName eq or externalId eq",
                {"filter": f'userName eq "user{middle:07d}@example.com" or externalId eq "ext-1"'},
            ),
            ("co scan on name.familyName", {"filter": 'name.familyName co "ily100"', "count": page}),
            ("totalResults only (count=0)", {"count": 0}),
            ("first cursor page", {"cursor": "", "count": page}),
            ("deep cursor page (last)", {"cursor": cursor, "count": page}),
            ("first startIndex page", {"startIndex": 1, "count": page}),
            ("deep startIndex page (last)", {"startIndex": n - page + 1, "count": page}),
            ("first page sorted by userName", {"sortBy": "userName", "count": page}),
        ]
        # Equality on attributes without a key column: PostgreSQL probes the GIN index on doc_keys.
        unkeyed: list[tuple[str, dict[str, Any]]] = [
            ("name.familyName eq (1 in 1,009)", {"filter": 'name.familyName eq "family100"', "count": page}),
            ("title eq (1 in 3)", {"filter": 'title eq "MANAGER"', "count": page}),
            ("name.givenName eq, no match", {"filter": 'name.givenName eq "nobody"', "count": page}),
        ]
        results = [
            await measure(name, f"GET /Users?{httpx2.QueryParams(params)}", get(**params), args.min_runs, args.budget)
            for name, params in [*cases, *unkeyed]
        ]
        if args.postgres_url:  # the same equalities without the GIN index, for comparison
            async with store.db.write() as tx:
                await tx.execute(text("DROP INDEX ix_resources_doc_keys"))
            results += [
                await measure(
                    f"{name}, without the GIN index",
                    f"GET /Users?{httpx2.QueryParams(params)}",
                    get(**params),
                    args.min_runs,
                    args.budget,
                )
                for name, params in unkeyed
            ]

    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    print(f"### Query latency, {n:,} users in one tenant (page size {page})\n")
    database = "PostgreSQL" if args.postgres_url else f"SQLite {sqlite3.sqlite_version}"
    runtime = f"{platform.python_implementation()} {platform.python_version()}, {database}"
    print(f"`{command}` — {runtime}, {platform.machine()};")
    print(
        f"seeded in {seed_s:.1f} s ({size_mb:.0f} MB); full cursor walk: {pages} pages in {walk_s:.1f} s "
        f"({walk_s / pages * 1000:.1f} ms/page). In-process ASGI (no network), p50 of ≥{args.min_runs} runs.\n"
    )
    print("| query | p50 ms | runs | rows | totalResults |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r.name} | {r.p50_ms:.2f} | {r.runs} | {r.rows} | {r.total} |")
    print()
    for r in results:
        print(f"- {r.name}: `{r.request[:160]}`")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--page", type=int, default=100, help="count of every page request")
    parser.add_argument("--batch", type=int, default=2_000, help="users per seeding transaction")
    parser.add_argument("--min-runs", type=int, default=10)
    parser.add_argument("--budget", type=float, default=2.0, help="seconds to spend per query beyond min-runs")
    parser.add_argument("--db-dir", help="directory for the database (default: a new temporary one)")
    parser.add_argument(
        "--postgres-url",
        help="run on a fresh database on this PostgreSQL server (e.g. postgresql://postgres@127.0.0.1/postgres)",
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
