"""A server killed (SIGKILL) between commit and delivery delivers everything after a restart:
the outbox is in the database, nothing depends on the dead process's memory."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from standardwebhooks import Webhook

from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.factory import open_store
from tests.events.support import Receiver
from tests.events.support import patch_body
from tests.events.support import user_body

WRITES = 8  # users; each is created (seq 2i-1) and deactivated (seq 2i)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "scimhub", *args], env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip().splitlines()[-1]


async def _tenant_with_token(settings: Settings) -> str:
    store = open_store(settings)
    try:
        _, token = await tenants.issue_token(store, await tenants.create_tenant(store, "acme"), None)
    finally:
        await store.close()
    return token


def _wait_ready(base: str, token: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if (
                httpx2.get(f"{base}/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"}).status_code
                == 200
            ):
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError("the server did not start")


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.mark.parametrize("phase_one", ["worker-disabled", "receiver-down"])
def test_events_committed_before_a_kill_9_are_all_delivered_in_order_after_restart(
    settings: Settings, tmp_path: Path, receiver: Receiver, phase_one: str
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "SCIMHUB_DATABASE_URL": settings.database_url,
        "SCIMHUB_PORT": str(port),
        "SCIMHUB_LOG_LEVEL": "WARNING",
        "SCIMHUB_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
        "SCIMHUB_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
        "SCIMHUB_WEBHOOK_TIMEOUT_SECONDS": "1",
        "SCIMHUB_WEBHOOK_MAX_ATTEMPTS": "1000",
        "SCIMHUB_WORKER_POLL_SECONDS": "0.2",
    }
    token = asyncio.run(_tenant_with_token(settings))
    secret = _cli(env, "webhook", "add", "acme", receiver.url)
    base = f"http://127.0.0.1:{port}/scim/v2"
    receiver.status = 503
    first_env = {**env, "SCIMHUB_WORKER_ENABLED": "false"} if phase_one == "worker-disabled" else env
    log = (tmp_path / "serve.log").open("wb")

    server = subprocess.Popen([sys.executable, "-m", "scimhub", "serve"], env=first_env, stdout=log, stderr=log)
    try:
        _wait_ready(base, token, server)
        with httpx2.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            for i in range(WRITES):
                created = client.post("/Users", json=user_body(f"user{i}", active=True))
                assert created.status_code == 201
                body = patch_body({"op": "replace", "path": "active", "value": False})
                assert client.patch(f"/Users/{created.json()['id']}", json=body).status_code == 200
        if phase_one == "receiver-down":
            _wait(lambda: len(receiver.received) >= 2, 10, "failed attempts")
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)

        receiver.status = 204
        server = subprocess.Popen([sys.executable, "-m", "scimhub", "serve"], env=env, stdout=log, stderr=log)
        _wait(lambda: len({d.headers["webhook-id"] for d in receiver.accepted()}) == 2 * WRITES, 30, "deliveries")
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()

    accepted = receiver.accepted()
    seqs = [d.event["seq"] for d in accepted]
    assert list(dict.fromkeys(seqs)) == list(range(1, 2 * WRITES + 1))  # every event, in order
    assert seqs == sorted(seqs)  # at least once: a repeat can only be the head being retried
    for delivery in accepted:
        event = Webhook(secret).verify(delivery.body, delivery.headers)
        assert event["type"] == ("user.created" if event["seq"] % 2 else "user.deactivated")
