"""End-to-end delivery latency: from the commit of a SCIM write to the webhook receiver having it.

Usage: python -m bench.webhook_latency [--rate 100] [--seconds 20] [--tenants 10] [--batch 1]
                                       [--db postgresql]

Runs the scimhub app in this process (its lifespan: the delivery worker as `serve` runs it) with
``--tenants`` tenants, each with a webhook to bench.webhook_sink (uvicorn, a process of its own).
Creates users through the SCIM API (in-process ASGI client) at ``--rate`` writes/s, open loop
(each write starts on schedule, whatever the others do), round robin over the tenants. The
commit time of each event is taken in the app's after-commit step (``DirectorySync.after_commit``
wrapped: it runs right after COMMIT, before the response is rendered); the receipt time is when
the receiver had the whole request (``time.time()`` in the receiver process, same clock).
Prints p50 / p99 / max of receipt - commit over every event.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import httpx2
import orjson

from bench.webhook_drain import database
from bench.webhook_drain import parser
from bench.webhook_drain import with_sink
from scimhub import app as app_module
from scimhub.app import create_app
from scimhub.events import webhooks as webhook_ops
from scimhub.events.model import Event
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
committed: dict[str, float] = {}


def note_commits() -> None:
    """Wrap DirectorySync.after_commit: note the time each event's write committed."""
    original = app_module.DirectorySync.after_commit

    async def after_commit(self: Any, events: list[Event]) -> None:
        at = time.time()
        for event in events:
            committed[event.id] = at
        await original(self, events)

    app_module.DirectorySync.after_commit = after_commit  # type: ignore[method-assign]


async def write_load(app: Any, tokens: list[str], rate: float, seconds: float) -> tuple[int, int]:
    """Create users at ``rate`` per second for ``seconds``; returns (writes, failed)."""
    transport = httpx2.ASGITransport(app=app)
    failed = 0
    async with httpx2.AsyncClient(transport=transport, base_url="http://bench/scim/v2") as client:

        async def create(i: int) -> None:
            nonlocal failed
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            body = {"schemas": [USER], "userName": f"user{i}@example.com", "active": True}
            response = await client.post("/Users", content=orjson.dumps(body), headers=headers)
            failed += response.status_code != 201

        total = int(rate * seconds)
        started = time.monotonic()
        tasks = []
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            tasks.append(asyncio.create_task(create(i)))
        await asyncio.gather(*tasks)
    return total, failed


async def received(sink: str, want: int, timeout: float = 30.0) -> dict[str, tuple[int, float]]:
    found: dict[str, tuple[int, float]] = {}
    deadline = time.monotonic() + timeout
    async with httpx2.AsyncClient() as client:
        while len(found) < want and time.monotonic() < deadline:
            found.update({k: tuple(v) for k, v in (await client.get(f"{sink}/received")).json().items()})
            await asyncio.sleep(0.2)
    return found


async def measure(args: argparse.Namespace, url: str) -> None:
    settings = Settings(database_url=url, log_level="WARNING", webhook_allow_private=True)
    store = open_store(settings)
    await store.db.upgrade()
    events = EventStore.of(store)
    tokens = []
    for n in range(args.tenants):
        tenant = await tenants.create_tenant(store, f"bench{n}")
        tokens.append((await tenants.issue_token(store, tenant, settings.token_pepper))[1])
        batch = {"batch": args.batch} if args.batch != 1 else {}  # (runs against releases without it too)
        await webhook_ops.add_webhook(events, tenant.id, f"{args.sink}/record", allow_private=True, **batch)
    note_commits()
    app = create_app(settings, store=store)
    async with app.router.lifespan_context(app):
        started, cpu = time.perf_counter(), time.process_time()
        writes, failed = await write_load(app, tokens, args.rate, args.seconds)
        load = (time.process_time() - cpu) / (time.perf_counter() - started)
        got = await received(args.sink, len(committed))
    latencies = sorted((got[i][1] - at) * 1000 for i, at in committed.items() if i in got)
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{args.db}: {writes} writes ({failed} failed) at {args.rate:g}/s over {args.tenants} tenants, "
        f"batch {args.batch}: {len(latencies)} of {len(committed)} events received; commit -> receipt "
        f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, max {latencies[-1]:.1f} ms; this process (app, worker and "
        f"load generator) used {load:.0%} of a core"
    )


async def run(args: argparse.Namespace) -> None:
    async with database(args, "scimhub_latency") as url:
        await measure(args, url)


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--rate", type=float, default=100.0, help="writes per second")
    args_parser.add_argument("--seconds", type=float, default=20.0)
    args_parser.add_argument("--tenants", type=int, default=10)
    args = args_parser.parse_args()
    with_sink(lambda base: run_at(args, base))


async def run_at(args: argparse.Namespace, sink: str) -> None:
    args.sink = sink
    await run(args)


if __name__ == "__main__":
    main()
