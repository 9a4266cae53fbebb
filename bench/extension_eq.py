"""Equality on a tenant's indexed extension attribute against ``userName eq``, on one large tenant.

Declares an extension (``costCenter`` indexed with ``scimhub schema index``'s operation, ``site``
not), seeds N users carrying it through the store's unit of work (the same ``index_keys`` as
``POST /Users``), then times the existence-check style lookups through the real ASGI app
in-process. Prints a Markdown table and the ratio the issue bounds (indexed eq <= 1.5x userName eq).

    python -m bench.extension_eq                     # 100000 users, SQLite
    python -m bench.extension_eq --postgres-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from bench import postgres
from bench.query_latency import Result
from bench.query_latency import measure
from bench.query_latency import user_doc
from scimhub.app import create_app
from scimhub.protocol import tenant_schemas
from scimhub.protocol import tenants
from scimhub.protocol.resources import new_id
from scimhub.schema.registry import tenant_registry
from scimhub.settings import Settings
from scimhub.store.base import StoredResource
from scimhub.store.factory import open_store
from scimhub.store.index_plan import index_keys
from scimhub.store.schemas_sql import TenantSchemaStore
from scimhub.store.sql import SqlStore
from scimhub.timestamps import utc_now

EXT = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
SCHEMA = {
    "id": EXT,
    "attributes": [{"name": "costCenter", "type": "string"}, {"name": "site", "type": "string"}],
}
SCIM = "http://testserver/scim/v2"


def ext_doc(i: int) -> dict[str, Any]:
    doc = user_doc(i)
    doc["schemas"] = [*doc["schemas"], EXT]
    doc[EXT] = {"costCenter": f"CC-{i:07d}", "site": f"Site {i % 50}"}
    return doc


async def declare(store: SqlStore, tenant_id: str) -> None:
    schemas = TenantSchemaStore(store.db)

    async def no_servers_yet() -> None:  # nothing caches the declaration before the seed
        return None

    await tenant_schemas.add_schema(schemas, tenant_id, SCHEMA)
    await tenant_schemas.add_index(schemas, tenant_id, EXT, "costCenter", no_servers_yet)


async def seed(store: SqlStore, tenant_id: str, users: int, batch: int) -> float:
    registry = tenant_registry(await TenantSchemaStore(store.db).declared(tenant_id))
    rtype = registry.resource_type("User")
    started = time.perf_counter()
    for start in range(0, users, batch):
        async with store.unit_of_work(tenant_id) as uow:
            for i in range(start, min(users, start + batch)):
                doc, now = ext_doc(i), utc_now()
                await uow.insert(
                    StoredResource(new_id(), "User", doc, now, now, 1), index_keys(doc, rtype, registry.common)
                )
    return time.perf_counter() - started


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="scimhub-bench-"))
    if args.postgres_url:
        database_url = await postgres.create_database(args.postgres_url, "scimhub_ext_eq")
    else:
        database_url = f"sqlite:///{workdir / 'ext.db'}"
    settings = Settings(database_url=database_url, rate_limit="")
    store = open_store(settings)
    try:
        await store.db.upgrade()
        tenant = await tenants.create_tenant(store, "bench")
        _record, token = await tenants.issue_token(store, tenant, None)
        await declare(store, tenant.id)
        seed_s = await seed(store, tenant.id, args.users, args.batch)
        await store.maintain()
        results = await _measure(args, settings, store, token)
    finally:
        await store.close()
        if args.postgres_url:
            await postgres.drop_database(args.postgres_url, database_url)
    _report(args, results, seed_s)


async def _measure(args: argparse.Namespace, settings: Settings, store: SqlStore, token: str) -> list[Result]:
    middle = args.users // 2
    app = create_app(settings, store=store)
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(transport=transport, base_url=SCIM, headers=headers) as client:
        cases = [
            ("userName eq", f'userName eq "user{middle:07d}@example.com"'),
            ("indexed extension eq", f'{EXT}:costCenter eq "cc-{middle:07d}"'),
            ("unindexed extension eq (1 in 50)", f'{EXT}:site eq "site 7"'),
        ]

        def lookup(expression: str) -> Callable[[], Awaitable[httpx2.Response]]:
            return lambda: client.get("/Users", params={"filter": expression, "count": 1})

        return [
            await measure(name, f"GET /Users?filter={expression}", lookup(expression), args.min_runs, args.budget)
            for name, expression in cases
        ]


def _report(args: argparse.Namespace, results: list[Result], seed_s: float) -> None:
    database = "PostgreSQL" if args.postgres_url else "SQLite"
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    print(f"### Extension attribute eq, {args.users:,} users in one tenant ({database})\n")
    print(f"`{command}` — {platform.python_implementation()} {platform.python_version()}, {platform.machine()};")
    print(f"seeded in {seed_s:.1f} s. In-process ASGI (no network), p50 of >= {args.min_runs} runs.\n")
    print("| query | p50 ms | runs | totalResults |")
    print("|---|---:|---:|---:|")
    for r in results:
        print(f"| {r.name} | {r.p50_ms:.2f} | {r.runs} | {r.total} |")
    ratio = results[1].p50_ms / results[0].p50_ms
    print(f"\nindexed extension eq / userName eq: {ratio:.2f}x (bound: 1.5x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--min-runs", type=int, default=50)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per query")
    parser.add_argument("--postgres-url", default=None, help="run on PostgreSQL (server and maintenance database)")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
