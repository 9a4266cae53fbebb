"""A server killed (SIGKILL) in the middle of a bulk request loses nothing it acknowledged: a bulk
answered before the kill is all there, single requests acknowledged while the bulk ran are there,
and the interrupted bulk's operations are each there whole (resource, event, audit entry) or not
at all."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.base import Query
from scimhub.store.events_sql import EventStore
from scimhub.store.factory import open_store
from scimhub.store.sql import SqlStore

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ANSWERED = 50  # users of the bulk answered before the kill
INTERRUPTED = 5000  # users of the bulk the kill interrupts


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _tenant_with_token(settings: Settings) -> tuple[str, str]:
    store = open_store(settings)
    try:
        tenant = await tenants.create_tenant(store, "acme")
        _, token = await tenants.issue_token(store, tenant, None)
    finally:
        await store.close()
    return tenant.id, token


def _bulk(prefix: str, count: int) -> dict[str, Any]:
    operations = [
        {
            "method": "POST",
            "path": "/Users",
            "bulkId": f"{prefix}{i}",
            "data": {"schemas": [USER], "userName": f"{prefix}{i}"},
        }
        for i in range(count)
    ]
    return {"schemas": [BULK_REQUEST], "Operations": operations}


def _wait_ready(client: httpx2.Client, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if client.get("/ServiceProviderConfig").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not start")


async def _stored(settings: Settings, tenant_id: str) -> tuple[list[str], list[Any], list[Any]]:
    store = open_store(settings)
    assert isinstance(store, SqlStore)
    try:
        page = await store.search(tenant_id, Query("User", None, 1, 100_000))
        events = await EventStore.of(store).events_after(tenant_id, 0, 100_000)
        audit = await EventStore.of(store).audit(tenant_id, 0, 100_000)
    finally:
        await store.close()
    return [r.doc["userName"] for r in page.resources], events, audit


def test_a_kill_9_mid_bulk_loses_no_acknowledged_write_and_leaves_each_operation_whole(
    settings: Settings, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SCIMHUB_DATABASE_URL": settings.database_url,
        "SCIMHUB_PORT": str(port),
        "SCIMHUB_LOG_LEVEL": "WARNING",
        "SCIMHUB_RATE_LIMIT": "",
        "SCIMHUB_BULK_MAX_OPERATIONS": str(INTERRUPTED),
    }
    tenant_id, token = asyncio.run(_tenant_with_token(settings))
    base = f"http://127.0.0.1:{port}/scim/v2"
    headers = {"Authorization": f"Bearer {token}"}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "scimhub", "serve"], env=env, stdout=log, stderr=log)
    acknowledged: list[str] = []
    bulk_outcome: list[object] = []
    try:
        with httpx2.Client(base_url=base, headers=headers, timeout=60) as client:
            _wait_ready(client, server)
            answered = client.post("/Bulk", json=_bulk("answered", ANSWERED))
            assert answered.status_code == 200
            assert {op["status"] for op in answered.json()["Operations"]} == {"201"}

            def interrupted_bulk() -> None:
                with httpx2.Client(base_url=base, headers=headers, timeout=60) as other:
                    try:
                        bulk_outcome.append(other.post("/Bulk", json=_bulk("interrupted", INTERRUPTED)).status_code)
                    except httpx2.TransportError as exc:
                        bulk_outcome.append(exc)

            sender = threading.Thread(target=interrupted_bulk)
            sender.start()
            # Single creates while the bulk runs (their units share its commits), then the kill
            # once part of the bulk is committed.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                name = f"single{len(acknowledged)}"
                if client.post("/Users", json={"schemas": [USER], "userName": name}).status_code == 201:
                    acknowledged.append(name)
                total = client.get("/Users", params={"count": "0"}).json()["totalResults"]
                if total > ANSWERED + len(acknowledged) + 100 and len(acknowledged) >= 3:
                    break
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=10)
            sender.join(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        log.close()

    assert len(bulk_outcome) == 1 and isinstance(bulk_outcome[0], httpx2.TransportError), bulk_outcome  # never answered
    names, events, audit = asyncio.run(_stored(settings, tenant_id))
    assert {f"answered{i}" for i in range(ANSWERED)} <= set(names)
    assert set(acknowledged) <= set(names)
    interrupted = [n for n in names if n.startswith("interrupted")]
    assert 100 < len(interrupted) < INTERRUPTED  # killed mid-bulk
    # Each operation whole or absent: one user.created event and one audit entry per user there.
    assert [e.type for e in events] == ["user.created"] * len(names)
    assert [e.seq for e in events] == list(range(1, len(names) + 1))
    assert sorted(e["resourceId"] for e in audit) == sorted(e.payload["resourceId"] for e in events)
    assert {(e["method"], e["path"], e["status"]) for e in audit} == {("POST", "/scim/v2/Users", 201)}
