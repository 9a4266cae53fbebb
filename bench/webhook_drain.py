"""Webhook backlog drain: how many events per second one process delivers.

Usage: python -m bench.webhook_drain [--events 2000] [--webhooks 1] [--db postgresql]

Appends ``--events`` events to one tenant, adds ``--webhooks`` webhooks that replay them all
(``--after 0``), and times the delivery worker until every webhook has caught up. The receiver
(bench.webhook_sink, 204 to everything, HTTP/1.1 keep-alive) runs under uvicorn in a process of
its own. Prints events/s (events x webhooks / wall time) and this process's CPU per event
(the worker's, plus a 10 ms poll of the cursors to see the end).
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
from pathlib import Path

from bench import postgres
from scimhub.events import webhooks as webhook_ops
from scimhub.events.model import EventDraft
from scimhub.events.model import EventType
from scimhub.events.worker import DeliveryWorker
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore


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


async def append_events(store: SqlStore, tenant_id: str, count: int) -> None:
    for start in range(0, count, 100):
        drafts = [
            EventDraft(str(uuid.uuid4()), EventType.USER_CREATED, "User", f"u{i}", "2026-01-01T00:00:00.000Z", None)
            for i in range(start, min(start + 100, count))
        ]
        async with store.unit_of_work(tenant_id) as uow:
            await uow.append_events(drafts)


async def measure(args: argparse.Namespace, url: str, sink_url: str) -> None:
    settings = Settings(database_url=url, log_level="WARNING", webhook_concurrency=max(16, args.webhooks))
    store = open_store(settings)
    await store.db.upgrade()
    try:
        tenant = await tenants.create_tenant(store, "bench")
        await append_events(store, tenant.id, args.events)
        events = EventStore.of(store)
        for _ in range(args.webhooks):
            await webhook_ops.add_webhook(events, tenant.id, sink_url, 0, allow_private=True)
        worker = DeliveryWorker(events, settings)
        started, cpu = time.perf_counter(), time.process_time()
        await worker.start()  # as the server runs it: woken, lanes, its HTTP clients kept
        while any(w.delivered_seq < args.events for w in await events.list_webhooks(tenant.id)):
            await asyncio.sleep(0.01)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        await worker.stop()
        delivered = args.events * args.webhooks
        print(
            f"{args.db}: {delivered} events to {args.webhooks} webhook(s) in {elapsed:.2f} s: "
            f"{delivered / elapsed:.0f} events/s, {cpu / delivered * 1e6:.0f} us CPU per event in this process"
        )
    finally:
        await store.close()


async def run(args: argparse.Namespace, sink_url: str) -> None:
    if args.db == "postgresql":
        url = await postgres.create_database(args.postgres_url, "scimhub_drain")
        try:
            await measure(args, url, sink_url)
        finally:
            await postgres.drop_database(args.postgres_url, url)
    else:
        await measure(args, f"sqlite:///{Path(tempfile.mkdtemp()) / 'drain.db'}", sink_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--webhooks", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER, help="server and maintenance database")
    args = parser.parse_args()
    port = free_port()
    sink = start_sink(port)
    try:
        asyncio.run(run(args, f"http://127.0.0.1:{port}/hook"))
    finally:
        sink.terminate()
        sink.wait(10)


if __name__ == "__main__":
    main()
