"""What the directory costs its readers: a feed page of user events with and without the
normalized ``user``, and directory API pages (plain, filtered by group, role and state).

Usage: python -m bench.directory_reads [--users 2000] [--rounds 200] [--db postgresql]
Calls the admin ASGI app directly (as bench.asgi_hotpath does the SCIM one); prints microseconds
per request (wall clock and this process's CPU time). Writes are untouched by the directory: the
``user`` of an event is made when the event is read, so bench.asgi_hotpath measures the writes.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import insert
from sqlalchemy import select

from bench import postgres
from bench.asgi_hotpath import Caller
from bench.asgi_hotpath import user
from scimhub.app import create_app
from scimhub.events.model import Event
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from scimhub.store.tables import resources
from scimhub.store.tables import user_roles

ADMIN_TOKEN = secrets.token_urlsafe(32)  # the admin API wants 32 characters or more
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


async def timed(label: str, rounds: int, call: Callable[[], Awaitable[Any]]) -> None:
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        await call()
    wall = (time.perf_counter() - started) / rounds * 1e6
    used = (time.process_time() - cpu) / rounds * 1e6
    print(f"{label}: {wall:,.0f} µs per request, {used:,.0f} µs CPU ({rounds} requests)")


async def seed(store: Any, tenant_id: str, scim: Caller, count: int) -> str:
    ids = []
    for i in range(count):
        assert await scim("POST", "/scim/v2/Users", body=user(i)) == 201
    async with store.db.read() as tx:
        pks = [row[0] for row in await tx.execute(select(resources.c.pk).where(resources.c.tenant_id == tenant_id))]
        ids = [row[0] for row in await tx.execute(select(resources.c.id).where(resources.c.tenant_id == tenant_id))]
    members = [{"value": i} for i in ids[::2]]
    group = orjson.dumps({"schemas": [GROUP], "displayName": "Half", "members": members})
    assert await scim("POST", "/scim/v2/Groups", body=group) == 201
    async with store.db.write() as tx:
        rows = [{"tenant_id": tenant_id, "user_pk": pk, "role": "member"} for pk in pks[::3]]
        await tx.execute(insert(user_roles), rows)
    async with store.db.read() as tx:
        found = await tx.execute(select(resources.c.id).where(resources.c.display == "Half"))
        return str(found.scalar_one())


async def measure(args: argparse.Namespace, url: str) -> None:
    settings = Settings(database_url=url, rate_limit="", log_level="WARNING", admin_token=ADMIN_TOKEN)
    store = open_store(settings)
    await store.db.upgrade()
    tenant = await tenants.create_tenant(store, "bench")
    _, token = await tenants.issue_token(store, tenant, None)
    app = create_app(settings, store=store)
    scim, admin = Caller(app, token), Caller(app, ADMIN_TOKEN)
    group = await seed(store, tenant.id, scim, args.users)
    base = "/admin/v1/tenants/bench"
    events = EventStore(store.db)

    async def plain(tenant_id: str, found: list[Event]) -> list[Event]:
        return found

    async def feed_without_user() -> None:
        saved = events.users.add
        events.users.add = plain  # type: ignore[method-assign]
        await events.events_after(tenant.id, 0, 100)
        events.users.add = saved  # type: ignore[method-assign]

    rounds = args.rounds
    await timed("feed page (store), 100 user events, no user", rounds, feed_without_user)
    await timed("feed page (store), 100 user events, with user", rounds, lambda: events.events_after(tenant.id, 0, 100))
    await timed("GET …/events?limit=100 (user events, with user)", rounds, lambda: admin("GET", f"{base}/events"))
    pages = [
        ("GET …/directory/users?limit=100", b"limit=100"),
        ("GET …/directory/users?limit=100&include=raw", b"limit=100&include=raw"),
        ("GET …/directory/users?group=…&limit=100", f"group={group}&limit=100".encode()),
        ("GET …/directory/users?role=member&limit=100", b"role=member&limit=100"),
        ("GET …/directory/users?state=inactive&limit=100 (none)", b"state=inactive&limit=100"),
    ]
    for label, query in pages:
        assert await admin("GET", f"{base}/directory/users", query) == 200
        await timed(label, rounds, lambda q=query: admin("GET", f"{base}/directory/users", q))  # type: ignore[misc]


async def run(args: argparse.Namespace) -> None:
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, "scimhub_directory")
        try:
            await measure(args, url)
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        await measure(args, f"sqlite:///{Path(tempfile.mkdtemp()) / 'directory.db'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
