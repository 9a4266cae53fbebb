"""Server CPU per created user: single POSTs against bulk requests, side by side in one run.

Usage: python -m bench.bulk [--users 3000] [--rounds 5] [--sizes 100,1000] [--concurrency 8] [--db postgresql]

Starts ``scimhub serve`` (uvicorn, as deployed) on a fresh database and measures that process's
CPU (/proc, ``bench.procstat``) while it creates users with single ``POST /Users``
(``--concurrency`` keep-alive connections, as an IdP's initial sync sends them) and with
``POST /Bulk`` requests of each size in ``--sizes`` (one at a time). The kinds alternate in
``--rounds`` rounds of ``--users`` / ``--rounds`` users each, so that a machine whose speed drifts
(a shared VM) slows every kind alike. Prints microseconds of server CPU per created user over all
rounds, each bulk size's ratio to single POSTs, and the lowest and highest ratio of one round.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import tempfile
from collections.abc import Awaitable
from collections.abc import Callable
from pathlib import Path

import orjson

from bench import postgres
from bench import servers
from bench.asgi_hotpath import user
from bench.client import Connection

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk(first: int, size: int) -> bytes:
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": orjson.loads(user(i))}
        for i in range(first, first + size)
    ]
    return orjson.dumps({"schemas": [BULK_REQUEST], "Operations": operations})


async def server_cpu(server: servers.Server, work: Callable[[], Awaitable[None]]) -> float:
    before = await server.settled_cpu_seconds()
    await work()
    return await server.settled_cpu_seconds() - before  # with the background work it set off


async def singles(conns: list[Connection], first: int, count: int) -> None:
    bodies = iter([user(i) for i in range(first, first + count)])

    async def send(conn: Connection) -> None:
        for body in bodies:
            reply = await conn.request("POST", "/Users", body)
            assert reply.status == 201, reply.body[:300]

    await asyncio.gather(*(send(c) for c in conns))


async def bulks(conn: Connection, first: int, count: int, size: int) -> None:
    for start in range(first, first + count, size):
        reply = await conn.request("POST", "/Bulk", bulk(start, min(size, first + count - start)))
        assert reply.status == 200, reply.body[:300]
        statuses = {op["status"] for op in orjson.loads(reply.body)["Operations"]}
        assert statuses == {"201"}, statuses


async def measure(args: argparse.Namespace, url: str, workdir: Path) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    env = {**servers.scimhub_env(url), "SCIMHUB_BULK_MAX_OPERATIONS": str(max(sizes))}
    servers.upgrade(env)
    token = servers.make_tenant(env)
    server = servers.start_scimhub(env, [servers.free_port()], workdir)
    try:
        await servers.wait_ready(server, token)
        conns = [Connection(servers.HOST, server.ports[0], token) for _ in range(args.concurrency)]
        await singles(conns, 10_000_000, 200)  # warm up: first-use compilation, caches
        await bulks(conns[0], 10_000_200, max(sizes), max(sizes))
        per_round = max(args.users // args.rounds, max(sizes))
        spent: dict[str, list[float]] = {"single": [], **{str(size): [] for size in sizes}}
        first = 0
        for _ in range(args.rounds):
            spent["single"].append(await server_cpu(server, functools.partial(singles, conns, first, per_round)))
            first += per_round
            for size in sizes:
                work = functools.partial(bulks, conns[0], first, per_round, size)
                spent[str(size)].append(await server_cpu(server, work))
                first += per_round
        for conn in conns:
            await conn.close()
    finally:
        server.stop()
    created = per_round * args.rounds
    single = sum(spent["single"]) / created * 1e6
    print(
        f"POST /Users, {args.concurrency} connections: {single:,.0f} µs server CPU per created user "
        f"({created} users, {args.rounds} rounds)"
    )
    for size in sizes:
        mine = spent[str(size)]
        ratios = sorted(s / b for s, b in zip(spent["single"], mine, strict=True))
        print(
            f"POST /Bulk of {size} creates: {sum(mine) / created * 1e6:,.0f} µs server CPU per created user "
            f"({sum(spent['single']) / sum(mine):.2f}x less than single POSTs; one round "
            f"{ratios[0]:.2f}x-{ratios[-1]:.2f}x)"
        )


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="scimhub-bulk-"))
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, "scimhub_bulk")
        try:
            await measure(args, url, workdir)
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        await measure(args, f"sqlite:///{workdir / 'bulk.db'}", workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=3000, help="users each kind creates, over all rounds")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of single POSTs and each bulk size")
    parser.add_argument("--sizes", default="100,1000", help="operations per bulk request, comma-separated")
    parser.add_argument("--concurrency", type=int, default=8, help="connections sending single POSTs")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
