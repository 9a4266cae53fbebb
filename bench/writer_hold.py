"""How long a write holds SQLite's writer: a bulk request's runs of creates against single writes.

Usage: python -m bench.writer_hold [--users 2000] [--runs 1,10,25,50] [--requests 500] [--rounds 5] [--collector]

In-process (the app called directly, its lifespan running), on a fresh SQLite database. The
writer (``store.sqlite.Writer``) is one lock per process: while a unit of work holds it, no other
request of any tenant writes. Each unit's hold is the process's CPU time (``time.thread_time``: the
event loop's thread) from the moment it has the lock to the moment it gives it back (its
statements and what runs between them; the grouped COMMIT is timed separately, as it is shared):
CPU, not wall time, because on a shared machine the wall time is mostly the scheduler's.
Prints the holds of single POST, PUT and group PATCH requests, then for each bulk run size
(``protocol.bulk_creates.RUN_SIZE``) the holds of its units and its CPU per created user, beside
single POSTs' CPU per created user. The kinds take turns in ``--rounds`` rounds (each creates
``--requests`` / rounds users), so that a machine whose speed drifts slows each alike.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson

from bench.asgi_hotpath import bulk_body
from bench.asgi_hotpath import put_body
from bench.asgi_hotpath import running_app
from bench.asgi_hotpath import user
from bench.asgi_hotpath import user_ids
from bench.payloads import CORE_GROUP
from bench.payloads import entra_add_members
from scimhub.collector import tune_for_serving
from scimhub.protocol import bulk
from scimhub.store.base import Query


class Holds:
    """Every unit of work's hold of the writer, in seconds, while ``recording``."""

    def __init__(self, writer: Any) -> None:
        self.units: list[float] = []
        self.commits: list[float] = []
        self.recording = False
        unit, commit = writer.unit, writer._commit

        @asynccontextmanager
        async def timed_unit() -> AsyncIterator[Any]:
            started = 0.0

            @asynccontextmanager
            async def inner() -> AsyncIterator[Any]:
                nonlocal started
                async with unit() as conn:
                    started = time.thread_time()
                    yield conn
                    # leaving: the unit's RELEASE runs next, still under the lock

            async with inner() as conn:
                yield conn
            if self.recording:
                self.units.append(time.thread_time() - started)

        def timed_commit() -> None:
            started = time.thread_time()
            commit()
            if self.recording:
                self.commits.append(time.thread_time() - started)

        writer.unit = timed_unit
        writer._commit = timed_commit

    async def of(self, work: Callable[[], Awaitable[None]]) -> tuple[list[float], list[float], float]:
        """The units' holds, the commits' and the CPU seconds of ``work``."""
        self.units, self.commits, self.recording = [], [], True
        cpu = time.process_time()
        await work()
        spent = time.process_time() - cpu
        self.recording = False
        return self.units, self.commits, spent


def describe(holds: list[float]) -> str:
    if not holds:
        return "no units"
    ordered = sorted(holds)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"{len(holds)} units: p50 {statistics.median(holds) * 1e6:,.0f} µs, p99 {p99 * 1e6:,.0f} µs, "
        f"max {ordered[-1] * 1e6:,.0f} µs"
    )


async def measure(args: argparse.Namespace) -> None:
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'hold.db'}"
    async with running_app(url, bulk_max_operations=1000) as (store, tenant_id, call):
        if args.collector:
            tune_for_serving()  # as ``scimhub serve`` does
        holds = Holds(store.db.writer)
        for i in range(args.users):
            assert await call("POST", "/scim/v2/Users", body=user(i)) == 201
        ids = await user_ids(store, tenant_id, args.users)
        group = orjson.dumps(
            {"schemas": [CORE_GROUP], "displayName": "Staff", "members": [{"value": i} for i in ids[:100]]}
        )
        assert await call("POST", "/scim/v2/Groups", body=group) == 201
        group_id = (await store.search(tenant_id, Query("Group", None, 1, 1))).resources[0].id
        sizes = [int(s) for s in args.runs.split(",")]
        share = max(100, args.requests // args.rounds // 100 * 100)  # users a kind creates a round
        names = iter(range(1_000_000, 100_000_000))
        edits = itertools.count()  # indexes taken modulo the users

        async def posts() -> None:
            for _ in range(share):
                assert await call("POST", "/scim/v2/Users", body=user(next(names))) == 201

        async def puts() -> None:
            for _ in range(share // 2):
                n = next(edits) % len(ids)
                assert await call("PUT", f"/scim/v2/Users/{ids[n]}", body=put_body(n, ids[n])) == 200

        async def member_adds() -> None:
            for _ in range(share // 2):
                body = orjson.dumps(entra_add_members([ids[100 + next(edits) % (len(ids) - 100)]]))
                assert await call("PATCH", f"/scim/v2/Groups/{group_id}", body=body) in (200, 204)

        def bulks(size: int) -> Callable[[], Awaitable[None]]:
            async def work() -> None:
                bulk.RUN_SIZE = size  # type: ignore[attr-defined]
                for _ in range(share // 100):
                    assert await call("POST", "/scim/v2/Bulk", body=bulk_body(next_block(), 100)) == 200

            return work

        def next_block() -> int:
            first = next(names)
            for _ in range(99):
                next(names)
            return first

        kinds: dict[str, Callable[[], Awaitable[None]]] = {
            "single POST /Users": posts,
            "single PUT /Users/{id}": puts,
            "single PATCH of a 100-member group": member_adds,
            **{f"POST /Bulk of 100, runs of {size}": bulks(size) for size in sizes},
        }
        units: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, float] = dict.fromkeys(kinds, 0.0)
        for _ in range(args.rounds):  # the kinds in turn, so that a drifting machine slows each alike
            for label, work in kinds.items():
                held, _, spent = await holds.of(work)
                units[label] += held
                cpu[label] += spent
        created = share * args.rounds
        single_cpu = cpu["single POST /Users"] / created
        for label in kinds:
            line = f"{label}: {describe(units[label])}"
            if label == "single POST /Users":
                line += f"; CPU {single_cpu * 1e6:,.0f} µs per created user"
            elif label.startswith("POST /Bulk"):
                per_user = cpu[label] / created
                line += (
                    f"; CPU {per_user * 1e6:,.0f} µs per created user ({single_cpu / per_user:.1f}x less than single"
                    " POSTs)"
                )
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--runs", default="1,10,25,50", help="bulk run sizes (creates per unit of work)")
    parser.add_argument("--rounds", type=int, default=5, help="alternations of the kinds (each --requests / rounds)")
    parser.add_argument("--collector", action="store_true", help="set the garbage collector as scimhub serve does")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
