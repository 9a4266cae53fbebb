"""Backlog drain: how many events per second one process delivers, and its memory meanwhile.

Usage: python -m bench.webhook_drain [--events 2000] [--webhooks 1] [--batch 1] [--hooks]
                                     [--db postgresql]

Appends ``--events`` events to one tenant, adds ``--webhooks`` webhooks that replay them all
(``--after 0``; ``--batch N``: batch delivery, up to N events a request), and times the delivery
worker until every webhook has caught up. The receiver (bench.webhook_sink, 204 to everything,
HTTP/1.1 keep-alive) runs under uvicorn in a process of its own. Prints events/s (events x
webhooks / wall time), this process's CPU per event (the worker's, plus a poll of the
cursors every 50 ms to see the end) and its RSS before and at most during the drain (sampled every 0.1 s);
then checks the delivery log: every event delivered once, in seq order.

``--hooks`` drains the backlog through an in-process hook (a handler that checks the order and
counts) instead: the same figures for the HookDispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from collections.abc import Callable
from collections.abc import Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench import postgres
from scimhub.events import webhooks as webhook_ops
from scimhub.events.hooks import HookDispatcher
from scimhub.events.hooks import HookRegistry
from scimhub.events.model import Event
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType
from scimhub.events.worker import DeliveryWorker
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.events_sql import Outcome
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore
from scimhub.timestamps import utc_now

APPEND_UNIT = 500  # events appended per transaction while building the backlog


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_sink(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "bench.webhook_sink:app", "--port", str(port)]
    sink = subprocess.Popen([*command, "--log-level", "warning", "--no-access-log"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink
        except OSError:
            time.sleep(0.05)
    sink.kill()
    raise SystemExit("the receiver did not start")


def rss_mib() -> float:
    """This process's resident set size (VmRSS), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The largest RSS seen every 0.1 s while running."""

    def __init__(self) -> None:
        self.peak = rss_mib()
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mib())
            await asyncio.sleep(0.1)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._sample())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
        self.peak = max(self.peak, rss_mib())


async def append_events(store: SqlStore, tenant_id: str, count: int) -> None:
    for start in range(0, count, APPEND_UNIT):
        now = utc_now()
        drafts = [
            EventDraft(str(uuid.uuid4()), EventType.USER_CREATED, "User", f"u{i}", now, None)
            for i in range(start, min(start + APPEND_UNIT, count))
        ]
        async with store.unit_of_work(tenant_id) as uow:
            await uow.append_events(drafts)


async def check_log(events: EventStore, webhook_id: str, count: int) -> str:
    """Whether the delivery log shows every event delivered once, in seq order."""
    expected, after = 1, 0
    while rows := await events.attempts(webhook_id, after=after, limit=5000):
        for row in rows:
            if row.seq != expected or row.outcome is not Outcome.DELIVERED:
                return f"NOT in order: seq {row.seq} ({row.outcome.value}) where {expected} was expected"
            expected += 1
        after = rows[-1].pk or 0
    return "in seq order, each once" if expected == count + 1 else f"only {expected - 1} of {count} logged"


async def drain_webhooks(args: argparse.Namespace, settings: Settings, events: EventStore, tenant_id: str) -> str:
    ids = [
        (await webhook_ops.add_webhook(events, tenant_id, args.sink_url, 0, allow_private=True, batch=args.batch)).id
        for _ in range(args.webhooks)
    ]
    worker = DeliveryWorker(events, settings)
    await worker.start()  # as the server runs it: woken, lanes, its HTTP clients kept
    while any(w.delivered_seq < args.events for w in await events.list_webhooks(tenant_id)):
        await asyncio.sleep(0.05)  # (a 10 ms poll cost the worker a tenth of this process's CPU)
    await worker.stop()
    return await check_log(events, ids[0], args.events)


async def drain_hooks(args: argparse.Namespace, settings: Settings, events: EventStore, tenant_id: str) -> str:
    registry, seen, done = HookRegistry("bench"), [0, 0], asyncio.Event()  # [handled, out of order]

    async def handle(event: Event) -> None:
        seen[1] += event.seq != seen[0] + 1
        seen[0] = event.seq
        if seen[0] == args.events:
            done.set()

    registry.register("*", handle, name="drain", from_start=True)
    dispatcher = HookDispatcher(registry, events, settings)
    await dispatcher.start()
    await done.wait()
    await dispatcher.stop()
    return "in seq order, each once" if seen[1] == 0 else f"{seen[1]} events out of order"


async def measure(args: argparse.Namespace, url: str) -> None:
    settings = Settings(database_url=url, log_level="WARNING", webhook_concurrency=max(16, args.webhooks))
    store = open_store(settings)
    await store.db.upgrade()
    try:
        tenant = await tenants.create_tenant(store, "bench")
        await append_events(store, tenant.id, args.events)
        events = EventStore.of(store)
        before = rss_mib()
        started, cpu = time.perf_counter(), time.process_time()
        with RssSampler() as rss:
            drain = drain_hooks if args.hooks else drain_webhooks
            order = await drain(args, settings, events, tenant.id)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        delivered = args.events * (1 if args.hooks else args.webhooks)
        what = "1 in-process hook" if args.hooks else f"{args.webhooks} webhook(s), batch {args.batch}"
        print(
            f"{args.db}: {delivered} events to {what} in {elapsed:.2f} s: {delivered / elapsed:.0f} events/s, "
            f"{cpu / delivered * 1e6:.0f} us CPU per event in this process; RSS {before:.0f} MiB before, "
            f"{rss.peak:.0f} MiB at most while draining; {order}"
        )
    finally:
        await store.close()


@asynccontextmanager
async def database(args: argparse.Namespace, name: str) -> AsyncIterator[str]:
    """A fresh database for the run: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, name)
        try:
            yield url
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        yield f"sqlite:///{Path(tempfile.mkdtemp()) / f'{name}.db'}"


async def run(args: argparse.Namespace) -> None:
    async with database(args, "scimhub_drain") as url:
        await measure(args, url)


def parser(description: str | None) -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(description=description)
    made.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    made.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    made.add_argument("--batch", type=int, default=1, help="batch delivery: up to N events a request (1: off)")
    return made


def main() -> None:
    args_parser = parser(__doc__)
    args_parser.add_argument("--events", type=int, default=2000)
    args_parser.add_argument("--webhooks", type=int, default=1)
    args_parser.add_argument("--hooks", action="store_true", help="drain through an in-process hook instead")
    args = args_parser.parse_args()
    with_sink(lambda base: run_at(args, f"{base}/hook"))


async def run_at(args: argparse.Namespace, sink_url: str) -> None:
    args.sink_url = sink_url
    await run(args)


def with_sink(benchmark: Callable[[str], Coroutine[Any, Any, None]]) -> None:
    """Run ``benchmark(the receiver's base URL)`` with the receiver started on a free port, and
    stop the receiver afterwards (also when the benchmark fails)."""
    port = free_port()
    sink = start_sink(port)
    try:
        asyncio.run(benchmark(f"http://127.0.0.1:{port}"))
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
