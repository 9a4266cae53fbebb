"""scim2-tester against a real scimhub on loopback: uvicorn, a migrated SQLite file, a tenant token.

Every check must pass except those in ``EXPECTED_FAILURES``, which name a known divergence
and why. The set of failures must equal it exactly: a fix (or a new failure) updates the list.
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
import pytest
import uvicorn
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult
from scim2_tester import Status
from scim2_tester import check_server

from scimhub.app import create_app
from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.factory import open_store

FAILED = {Status.ERROR, Status.CRITICAL}
MEMBER_DISPLAY = (
    "members.display is derived by scimhub from the member's own displayName (membership is "
    "relational, see ARCHITECTURE.md 'Storage model'); scim2-tester expects the random display it sent back."
)
# Check key ("<resource type>/<check>[<attribute>]") → why it fails.
EXPECTED_FAILURES: dict[str, str] = {
    "Group/check_add_attribute[members]": MEMBER_DISPLAY,
    "Group/check_replace_attribute[members]": MEMBER_DISPLAY,
}
STARTUP_TIMEOUT = 10.0


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    token: str


async def provision(settings: Settings) -> str:
    """A tenant and a bearer token for it, in the server's database."""
    store = open_store(settings)
    await store.open()
    try:
        tenant = await tenants.create_tenant(store, "conformance")
        _, secret = await tenants.issue_token(store, tenant, settings.token_pepper)
    finally:
        await store.close()
    return secret


@pytest.fixture
def live_server(settings: Settings) -> Iterator[LiveServer]:
    # scim2-tester fires requests back to back: the per-token rate limit is not what is checked here.
    settings = dataclasses.replace(settings, rate_limit="")
    token = asyncio.run(provision(settings))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # uvicorn serves on this very socket: no port race
    host, port = sock.getsockname()
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="warning", access_log=False, ws="none"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not server.started:
            assert thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.02)
        yield LiveServer(f"http://{host}:{port}/scim/v2", token)
    finally:
        server.should_exit = True
        thread.join(STARTUP_TIMEOUT)
        sock.close()


def check_key(result: CheckResult) -> str:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return f"{result.resource_type or '-'}/{result.title}" + (f"[{urn}]" if urn else "")


def summary(results: list[CheckResult], failures: dict[str, CheckResult]) -> str:
    counts = Counter(result.status.name for result in results)
    lines = [f"{len(results)} checks: " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))]
    for key in sorted(failures.keys() - EXPECTED_FAILURES.keys()):
        reason = (failures[key].reason or "").replace("\n", " ")[:300]
        lines.append(f"  UNEXPECTED {failures[key].status.name} {key}: {reason}")
    lines += [
        f"  NOW PASSES {key}: remove it from EXPECTED_FAILURES" for key in EXPECTED_FAILURES.keys() - failures.keys()
    ]
    return "\n".join(lines)


def test_scim2_tester_finds_no_failure_beyond_the_known_ones(live_server: LiveServer) -> None:
    headers = {"Authorization": f"Bearer {live_server.token}"}
    with httpx2.Client(base_url=live_server.base_url, headers=headers, timeout=30.0) as http:
        results = check_server(SyncSCIMClient(http))
    failures = {check_key(result): result for result in results if result.status in FAILED}
    assert failures.keys() == EXPECTED_FAILURES.keys(), summary(results, failures)
    assert {result.resource_type for result in results} >= {"User", "Group"}, summary(results, failures)
    assert sum(result.status is Status.SUCCESS for result in results) >= 100, summary(results, failures)
