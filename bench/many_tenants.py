"""Many quiet tenants against a few busy ones: the same requests, spread over T tenants (issue 21).

    python -m bench.many_tenants                               # 10 vs 10,000 tenants, SQLite
    python -m bench.many_tenants --tenants 10,10000,10 --db postgresql
    python -m bench.many_tenants --tenants 10,1000 --requests 4000   # a quick check

For each tenant count T (in the order given; repeat one to alternate), a fresh database gets T
tenants with a token each, then one ``scimhub serve`` process answers the same ``--requests``
requests: pairs of an existence check (``userName eq``, not found) and the create that follows it
(as an IdP provisions a user), the pairs dealt round-robin to the tenants and shuffled, sent over
``--concurrency`` keep-alive connections (each request carries its tenant's token), ``--settle``
seconds after the server started (its start-up upkeep walks every tenant once). Rate limits
are on (``--rate-limit``, high enough never to refuse), as in a deployment. The server's CPU per
request (from /proc) and its peak RSS are the figures; each row is also given as a multiple of the
first row's CPU (the target: 10,000 tenants within 1.2x of 10, RSS ≤ 150 MB).

    python -m bench.many_tenants --rounds 5      # the tenant counts in turn, five times over

With ``--rounds`` the counts are run in turn that many times (a machine whose speed drifts slows
each alike), and each round's last row is given as a multiple of its first, with the median of
those ratios: on a shared machine one run's ratio spreads ±0.15, the median far less.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # `python bench/many_tenants.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench import postgres
from bench import servers
from bench.client import Connection
from bench.procstat import postgres_cpu_between
from bench.procstat import postgres_snapshot
from bench.scenarios import percentile

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass(frozen=True, slots=True)
class Row:
    tenants: int
    requests: int
    seconds: float
    cpu_us: float  # scimhub's CPU per request
    postgres_cpu_us: float | None
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    rss_mb: float
    errors: int
    seed_seconds: float


def pairs(tenants: int, requests: int, seed: int = 7) -> list[tuple[int, int]]:
    """(tenant index, user index) of each check-and-create pair: dealt round-robin, then shuffled."""
    dealt = [(p % tenants, p // tenants) for p in range(requests // 2)]
    random.Random(seed).shuffle(dealt)
    return dealt


def user_body(tenant: int, n: int) -> bytes:
    name = f"user{n}@t{tenant}.example.com"
    return orjson.dumps(
        {
            "schemas": [USER],
            "userName": name,
            "externalId": f"x{tenant}-{n}",
            "active": True,
            "name": {"givenName": "Ada", "familyName": f"Lovelace{n}"},
            "emails": [{"value": name, "type": "work", "primary": True}],
        }
    )


def check_path(tenant: int, n: int) -> str:
    return f"/Users?filter=userName%20eq%20%22user{n}%40t{tenant}.example.com%22"


async def seed(url: str, count: int) -> list[str]:
    """``count`` tenants with a token each (the tokens' secrets, in tenant order)."""
    from scimhub.protocol import tenants as tenant_ops
    from scimhub.settings import Settings
    from scimhub.store.factory import open_store

    store = open_store(Settings(database_url=url, log_level="WARNING"))
    try:
        await store.db.upgrade()
        tokens = []
        for i in range(count):
            tenant = await tenant_ops.create_tenant(store, f"tenant-{i:05d}")
            tokens.append((await tenant_ops.issue_token(store, tenant, None))[1])
        return tokens
    finally:
        await store.close()


async def drive(port: int, tokens: list[str], work: list[tuple[int, int]], concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    source = iter(work)

    async def worker() -> None:
        nonlocal errors
        conn = Connection(servers.HOST, port, tokens[0])
        try:
            for tenant, n in source:
                token = tokens[tenant]
                check = await conn.request("GET", check_path(tenant, n), token=token)
                created = await conn.request("POST", "/Users", user_body(tenant, n), token=token)
                latencies.extend((check.seconds, created.seconds))
                errors += (check.status != 200) + (created.status != 201)
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors


async def one_row(args: argparse.Namespace, count: int) -> Row:
    workdir = Path(tempfile.mkdtemp(prefix="scimhub-tenants-"))
    pg_db: str | None = None
    try:
        if args.db == "postgresql":
            pg_db = url = await postgres.create_database(args.postgres_url, f"scimhub_tenants_{count}")
        else:
            url = f"sqlite:///{workdir / 'bench.db'}"
        started = time.perf_counter()
        tokens = await seed(url, count)
        if pg_db is not None:
            await postgres.analyze(pg_db)
        seed_seconds = time.perf_counter() - started
        env = servers.scimhub_env(url)
        env["SCIMHUB_RATE_LIMIT"] = args.rate_limit
        port = servers.free_port()
        server = servers.start_scimhub(env, [port], workdir)
        try:
            await servers.wait_ready(server, tokens[0])
            await asyncio.sleep(args.settle)  # the start-up upkeep (retention, inactive users) runs first
            work = pairs(count, args.requests)
            pg_before = postgres_snapshot(postgres.database_name(pg_db)) if pg_db is not None else None
            cpu_before, wall_before = server.cpu_seconds(), time.perf_counter()
            latencies, errors = await drive(port, tokens, work, args.concurrency)
            cpu, seconds = server.cpu_seconds() - cpu_before, time.perf_counter() - wall_before
            pg_cpu: float | None = None
            if pg_before is not None and pg_db is not None:
                pg_cpu = postgres_cpu_between(pg_before, postgres_snapshot(postgres.database_name(pg_db))).mine
            memory = server.memory()
        finally:
            server.stop()
        n = len(latencies)
        return Row(
            count,
            n,
            seconds,
            cpu / n * 1e6,
            None if pg_cpu is None else pg_cpu / n * 1e6,
            percentile(latencies, 0.5) or 0.0,  # milliseconds
            percentile(latencies, 0.99) or 0.0,
            memory.hwm_kb / 1024,
            memory.rss_kb / 1024,
            errors,
            seed_seconds,
        )
    finally:
        if pg_db is not None:
            await postgres.drop_database(args.postgres_url, pg_db)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def table(rows: list[Row]) -> str:
    base = rows[0].cpu_us
    lines = [
        "| tenants | requests | req/s | scimhub CPU µs/req | x first row | postgres CPU µs/req | p50 ms | p99 ms "
        "| peak RSS MB | RSS at end MB | errors |",
        "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        pg = "" if r.postgres_cpu_us is None else f"{r.postgres_cpu_us:,.0f}"
        lines.append(
            f"| {r.tenants:,} | {r.requests:,} | {r.requests / r.seconds:,.0f} | {r.cpu_us:,.0f} | "
            f"{r.cpu_us / base:.2f}x | {pg} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.peak_rss_mb:.0f} | "
            f"{r.rss_mb:.0f} | {r.errors} |"
        )
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> list[Row]:
    counts = [int(c) for c in args.tenants.split(",")] * args.rounds
    rows = []
    for count in counts:
        row = await one_row(args, count)
        rows.append(row)
        print(
            f"{count:,} tenants: {row.cpu_us:,.0f} µs CPU a request, peak RSS {row.peak_rss_mb:.0f} MB "
            f"({row.requests:,} requests, {row.errors} errors, seeded in {row.seed_seconds:.0f} s)",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.many_tenants", description=__doc__.split("\n\n")[0])
    p.add_argument("--tenants", default="10,10000", help="comma-separated tenant counts, one row each")
    p.add_argument("--requests", type=int, default=40_000, help="requests per row (half checks, half creates)")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    p.add_argument("--rate-limit", default="100000/minute", help="SCIMHUB_RATE_LIMIT of the server")
    p.add_argument("--settle", type=float, default=5.0, help="seconds between the server's start and the row")
    p.add_argument("--rounds", type=int, default=1, help="run the tenant counts in turn this many times")
    p.add_argument("--keep", action="store_true", help="keep the work directories (server logs)")
    args = p.parse_args(argv)
    rows = asyncio.run(run(args))
    print()
    print(f"{args.db}, {args.requests:,} requests a row, concurrency {args.concurrency}, {os.cpu_count()} CPUs")
    print(table(rows))
    if args.rounds > 1:
        ratios = round_ratios(rows, args.rounds)
        shown = ", ".join(f"{r:.2f}x" for r in ratios)
        print(f"\nlast row ÷ first row, each round: {shown}; median {statistics.median(ratios):.2f}x")


def round_ratios(rows: list[Row], rounds: int) -> list[float]:
    """Each round's last row's CPU per request as a multiple of its first row's."""
    size = len(rows) // rounds
    return [rows[i + size - 1].cpu_us / rows[i].cpu_us for i in range(0, size * rounds, size)]


if __name__ == "__main__":
    main()
