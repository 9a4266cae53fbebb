"""Per-request cost of the hottest paths, calling the ASGI app directly (no network, no client).

Usage: python -m bench.asgi_hotpath [--users 2000] [--requests 3000] [--profile] [--db postgresql] [--only eq,groups]
       [--loop uvloop|asyncio]
Prints microseconds per request (wall clock and this process's CPU time) for an existence check
(userName eq), a create (alone and 8 at a time), a page of 100 users (startIndex and cursor), a
PATCH of ``active`` (the deprovisioning signal, Okta's form; ``entra``: Entra's), a one-member change
of a group, and with ``--only``: ``GET /Groups?excludedAttributes=members`` (``groups``), a PUT
(Okta's profile update), a DELETE of a user, and creates in POST /Bulk requests of 100 (``bulk``). With
``--db postgresql`` it runs on a fresh database on ``--postgres-url`` (created, migrated, dropped),
and reports the PostgreSQL backends' CPU beside scimhub's (a local server, from /proc); ``--db both``
runs SQLite and then PostgreSQL and prints them side by side with the ratio. It runs on uvloop,
the loop ``scimhub serve`` runs (``--loop asyncio``: the standard library's, as before session 9).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import tempfile
import time
from collections.abc import AsyncIterator
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

import orjson

from bench import postgres
from bench import sqlite_time
from bench.payloads import CORE_GROUP
from bench.payloads import entra_add_members
from bench.payloads import entra_deactivate
from bench.payloads import okta_deactivate
from bench.payloads import okta_put
from bench.payloads import okta_remove_member
from bench.procstat import postgres_cpu_between
from bench.procstat import postgres_snapshot
from bench.sqlite_time import SPENT
from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.base import Query
from scimhub.store.factory import open_store

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def user(i: int) -> bytes:
    return orjson.dumps(
        {
            "schemas": [USER, ENTERPRISE],
            "userName": f"u{i}@example.com",
            "externalId": f"e{i}",
            "active": True,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": f"u{i}@example.com", "type": "work", "primary": True}],
            ENTERPRISE: {"department": "R&D", "employeeNumber": str(i)},
        }
    )


class Caller:
    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.headers = [
            (b"host", b"bench"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/scim+json"),
        ]

    async def __call__(
        self, method: str, path: str, query: bytes = b"", body: bytes = b"", sink: list[bytes] | None = None
    ) -> int:
        scope = {
            "type": "http",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": self.headers,
            "scheme": "http",
            "server": ("bench", 80),
            "client": ("127.0.0.1", 1),
            "http_version": "1.1",
            "asgi": {"version": "3.0"},
        }
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif sink is not None and message["type"] == "http.response.body":
                sink.append(message.get("body", b""))  # the response body, for callers that read it

        await self.app(scope, receive, send)
        return status


ROUNDS = 1  # --rounds: each measurement repeated and printed each time (a shared machine is noisy)


@dataclass
class Measured:
    """Each row's CPU per request (this process; PostgreSQL's backends beside it), per database."""

    postgres_db: str | None = None  # the database whose backends' CPU is read, while one runs
    rows: dict[str, dict[str, tuple[float, float | None]]] = field(default_factory=dict)


MEASURED = Measured()


async def measure(label: str, calls: list[Any], profile: bool, concurrency: int = 1) -> None:
    for _ in range(ROUNDS - 1):
        await _measure(label, calls, False, concurrency)
    await _measure(label, calls, profile, concurrency)


async def _measure(label: str, calls: list[Any], profile: bool, concurrency: int) -> None:
    profiler = cProfile.Profile() if profile else None
    pg_db = MEASURED.postgres_db
    pg_before = postgres_snapshot(pg_db) if pg_db is not None else None
    SPENT.reset()
    started, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    queue = iter(calls)

    async def worker() -> None:
        for call in queue:
            await call()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if profiler:
        profiler.disable()
    per_request = (time.perf_counter() - started) / len(calls) * 1e6
    cpu_per_request = (time.process_time() - cpu) / len(calls) * 1e6
    pg_us = None
    if pg_before is not None and pg_db is not None:
        pg_us = postgres_cpu_between(pg_before, postgres_snapshot(pg_db)).mine / len(calls) * 1e6
    MEASURED.rows.setdefault(label, {})["postgresql" if pg_db else "sqlite"] = (cpu_per_request, pg_us)
    spent_ns, statements = SPENT.reset()
    beside = "" if pg_us is None else f", postgres {pg_us:,.0f} µs CPU"
    if statements:  # --sqlite-time
        beside += f", SQLite {spent_ns / len(calls) / 1e3:,.0f} µs in {statements / len(calls):.1f} statements"
    print(f"{label}: {per_request:,.0f} µs per request, {cpu_per_request:,.0f} µs CPU{beside} ({len(calls)} requests)")
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(30)


async def measure_per(label: str, calls: list[Any], per_call: int) -> None:
    """Like ``measure``, per unit of work (a bulk's operation) instead of per request."""
    started, cpu = time.perf_counter(), time.process_time()
    for call in calls:
        assert await call() == 200
    units = len(calls) * per_call
    wall = (time.perf_counter() - started) / units * 1e6
    print(f"{label}: {wall:,.0f} µs per user, {(time.process_time() - cpu) / units * 1e6:,.0f} µs CPU")


def bulk_body(first: int, size: int) -> bytes:
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": orjson.loads(user(i))}
        for i in range(first, first + size)
    ]
    return orjson.dumps({"schemas": [BULK_REQUEST], "Operations": operations})


async def run(args: argparse.Namespace) -> None:
    for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        if db == "postgresql":
            url = await postgres.create_database(args.postgres_url, "scimhub_hotpath")
            MEASURED.postgres_db = postgres.database_name(url) if postgres.is_local(url) else None
            try:
                await measure_all(args, url)
            finally:
                MEASURED.postgres_db = None
                await postgres.drop_database(args.postgres_url, url)
        else:
            await measure_all(args, f"sqlite:///{Path(tempfile.mkdtemp()) / 'hotpath.db'}")
    if args.db == "both":
        print(side_by_side(MEASURED.rows))


def side_by_side(rows: dict[str, dict[str, tuple[float, float | None]]]) -> str:
    """PostgreSQL against SQLite, scimhub's own CPU per request (the issue's target: ≤ 1.5x)."""
    lines = [
        "| request | SQLite µs CPU | PostgreSQL µs CPU | x SQLite | postgres backends µs CPU |",
        "|---|--:|--:|--:|--:|",
    ]
    for label, by_db in rows.items():
        if "sqlite" in by_db and "postgresql" in by_db:
            lite, (pg, backend) = by_db["sqlite"][0], by_db["postgresql"]
            shown = "" if backend is None else f"{backend:,.0f}"
            lines.append(f"| {label} | {lite:,.0f} | {pg:,.0f} | {pg / lite:.2f}x | {shown} |")
    return "\n".join(lines)


@asynccontextmanager
async def running_app(url: str, **settings: Any) -> AsyncIterator[tuple[Any, str, Caller]]:
    """A migrated database with one tenant, and the app on it with its lifespan running, as under
    uvicorn (the webhook worker, woken after every commit, the request-log flusher and database
    upkeep cost CPU per request too): the store, the tenant's id and a caller with its token."""
    config = Settings(database_url=url, rate_limit="", log_level="WARNING", **settings)
    store = open_store(config)
    await store.db.upgrade()
    tenant = await tenants.create_tenant(store, "bench")
    _, token = await tenants.issue_token(store, tenant, None)
    app = create_app(config, store=store)
    async with app.router.lifespan_context(app):
        yield store, tenant.id, Caller(app, token)


async def measure_all(args: argparse.Namespace, url: str) -> None:
    async with running_app(url) as (store, tenant_id, call):
        await measure_on(args, store, tenant_id, call)


async def measure_on(args: argparse.Namespace, store: Any, tenant_id: str, call: Caller) -> None:
    for i in range(args.users):
        assert await call("POST", "/scim/v2/Users", body=user(i)) == 201
    only = set(args.only.split(","))
    # Users in a random order, as an IdP checks them: each probe reads other index and table pages.
    names = random.Random(7).choices(range(args.users), k=args.requests)
    queries = [f"filter=userName%20eq%20%22u{i}%40example.com%22".encode() for i in names]
    if "eq" in only:
        gets = [lambda q=q: call("GET", "/scim/v2/Users", q) for q in queries]
        await measure("GET /Users?filter=userName eq", gets, args.profile)
    if "page" in only:
        pages = max(1, args.requests // 10)
        index = [lambda: call("GET", "/scim/v2/Users", b"startIndex=101&count=100")] * pages
        await measure("GET /Users?startIndex=101&count=100", index, args.profile)
        cursor = [lambda: call("GET", "/scim/v2/Users", b"cursor&count=100")] * pages
        await measure("GET /Users?cursor&count=100", cursor, args.profile)
    if "patch" in only:
        ids = await user_ids(store, tenant_id, min(args.users, args.requests))
        patches = [lambda i=i: call("PATCH", f"/scim/v2/Users/{i}", body=orjson.dumps(okta_deactivate())) for i in ids]
        await measure("PATCH /Users/{id} active false", patches, args.profile)
    if "entra" in only:
        # Users the Okta form left active: the last ones (--users at least twice --requests).
        ids = (await user_ids(store, tenant_id, args.users))[-min(args.users, args.requests) :]
        body = orjson.dumps(entra_deactivate())
        patches = [lambda i=i: call("PATCH", f"/scim/v2/Users/{i}", body=body) for i in ids]
        await measure("PATCH /Users/{id} active false (Entra)", patches, args.profile)
    if "put" in only:
        ids = await user_ids(store, tenant_id, min(args.users, args.requests))
        puts = [lambda n=n, i=i: call("PUT", f"/scim/v2/Users/{i}", body=put_body(n, i)) for n, i in enumerate(ids)]
        await measure("PUT /Users/{id}", puts, args.profile)
    if "post" in only:
        bodies = [user(args.users + i) for i in range(args.requests)]
        posts = [lambda b=b: call("POST", "/scim/v2/Users", body=b) for b in bodies]
        await measure("POST /Users", posts, args.profile)
    if "bulk" in only:  # the same creates in POST /Bulk requests of 100: CPU per created user
        first = args.users + 2 * args.requests
        bodies = [bulk_body(first + k, 100) for k in range(0, args.requests, 100)]
        bulks = [lambda b=b: call("POST", "/scim/v2/Bulk", body=b) for b in bodies]
        await measure_per(f"POST /Bulk of 100 creates ({len(bulks) * 100} users)", bulks, 100)
    if "post8" in only:  # an IdP's initial sync: concurrent creates (their commits are grouped)
        bodies = [user(args.users + args.requests + i) for i in range(args.requests)]
        posts = [lambda b=b: call("POST", "/scim/v2/Users", body=b) for b in bodies]
        await measure("POST /Users, 8 concurrent", posts, args.profile, concurrency=8)
    if "groups" in only:  # Entra's and Okta's group list, members left out (two groups, one of 100 members)
        ids = await user_ids(store, tenant_id, min(args.users, 100))
        for name, members in (("Listed", [{"value": i} for i in ids]), ("Empty", [])):
            group = orjson.dumps({"schemas": [CORE_GROUP], "displayName": name, "members": members})
            assert await call("POST", "/scim/v2/Groups", body=group) == 201
        lists = [lambda: call("GET", "/scim/v2/Groups", b"excludedAttributes=members")] * args.requests
        await measure("GET /Groups?excludedAttributes=members", lists, args.profile)
    if "member" in only:  # Okta and Entra change one member at a time
        ids = await user_ids(store, tenant_id, args.users)
        members = [{"value": i} for i in ids[:100]]
        group = orjson.dumps({"schemas": [CORE_GROUP], "displayName": "Staff", "members": members})
        assert await call("POST", "/scim/v2/Groups", body=group) == 201
        page = await store.search(tenant_id, Query("Group", None, 1, 1))
        path = f"/scim/v2/Groups/{page.resources[0].id}"
        bodies = [
            orjson.dumps(change)
            for i in ids[100 : 100 + args.requests // 2]
            for change in (entra_add_members([i]), okta_remove_member(i))
        ]
        changes = [lambda b=b: call("PATCH", path, body=b) for b in bodies]
        await measure("PATCH /Groups/{id} add or remove one member (100 members)", changes, args.profile)
    if "delete" in only:  # last: it removes the users the others use
        ids = await user_ids(store, tenant_id, min(args.users, args.requests))
        deletes = [lambda i=i: call("DELETE", f"/scim/v2/Users/{i}") for i in ids]
        await measure("DELETE /Users/{id}", deletes, args.profile)


def put_body(n: int, id: str) -> bytes:
    """Okta's profile update of user n (created in order by ``user``): its userName kept."""
    body = okta_put(n, id)
    body["userName"] = f"u{n}@example.com"
    body["emails"][0]["value"] = body["emails"][0]["display"] = body["userName"]
    return orjson.dumps(body)


async def user_ids(store: Any, tenant_id: str, count: int) -> list[str]:
    page = await store.search(tenant_id, Query("User", None, 1, count))
    return [r.id for r in page.resources]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--sqlite-time",
        action="store_true",
        help="time the SQLite writer connection's statements (bench/sqlite_time.py) and print their share",
    )
    parser.add_argument(
        "--only",
        default="eq,post,page,patch,member",
        help="comma-separated: eq, post, post8, bulk, page, patch, entra, put, member, groups, delete",
    )
    parser.add_argument(
        "--db", choices=("sqlite", "postgresql", "both"), default="sqlite", help="both: side by side, with ratios"
    )
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    parser.add_argument("--rounds", type=int, default=1, help="repeat each measurement (the reads: eq, page, groups)")
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop: uvloop, as `scimhub serve` runs (uvicorn's default when installed), or asyncio's",
    )
    args = parser.parse_args()
    global ROUNDS
    ROUNDS = max(1, args.rounds)
    if args.sqlite_time:
        sqlite_time.install()
    with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
        runner.run(run(args))


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop production runs: each asyncpg round trip is a turn of it, so on PostgreSQL the
    loop is a visible share of a request's CPU (asyncio's costs about twice uvloop's)."""
    if name == "asyncio":
        return None
    import uvloop

    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
