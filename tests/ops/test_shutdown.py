"""Graceful shutdown of `scimhub serve`: on SIGTERM an in-flight request finishes, then the process
exits 0 after the lifespan flushed the request log.

The slow request is honest: the client sends the headers and half of a create's body, then waits;
the server is reading the body (in flight) when SIGTERM arrives. The rest of the body follows after
the server has stopped accepting connections.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson

from scimhub.protocol import tenants
from scimhub.settings import Settings
from scimhub.store.sql import SqlStore
from tests.cli.support import Cli


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else "serve exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            assert time.monotonic() < deadline, "scimhub serve did not start listening"
            time.sleep(0.05)


def _refuses_connections(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_sigterm_lets_an_in_flight_request_finish_and_exits_0(
    settings: Settings, store: SqlStore, tmp_path: Path
) -> None:
    tenant = asyncio.run(tenants.create_tenant(store, "acme"))
    _, token = asyncio.run(tenants.issue_token(store, tenant, None))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMHUB_")}
    env |= {"SCIMHUB_DATABASE_URL": settings.database_url, "SCIMHUB_SHUTDOWN_GRACE_SECONDS": "20"}
    server = subprocess.Popen(
        [sys.executable, "-m", "scimhub", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, server)
        body = orjson.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "slowpoke"})
        head = (
            f"POST /scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/scim+json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
            conn.sendall(head + body[:20])
            time.sleep(0.3)  # the server has read the headers and waits for the rest of the body
            server.send_signal(signal.SIGTERM)
            assert _refuses_connections(port), "the server kept accepting connections after SIGTERM"
            assert server.poll() is None, "the server exited with a request in flight"
            conn.sendall(body[20:])
            response = b""
            while chunk := conn.recv(65536):
                response += chunk
        exit_code = server.wait(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    stderr = server.stderr.read().decode() if server.stderr else ""
    if server.stdout:
        server.stdout.close()
    if server.stderr:
        server.stderr.close()

    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 201 Created", response
    assert orjson.loads(rest.split(b"\r\n\r\n", 1)[1])["userName"] == "slowpoke"
    assert exit_code == 0, stderr

    # Logs: JSON lines after the start-up messages; the create was logged; the token never.
    json_lines = [orjson.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    access = [line for line in json_lines if line["logger"] == "scimhub.access"]
    assert [(a["method"], a["route"], a["status"], a["tenant"]) for a in access] == [
        ("POST", "/scim/v2/Users", 201, tenant.id)
    ]
    assert any(line["msg"] == "Application shutdown complete." for line in json_lines)
    assert token not in stderr

    # The lifespan flushed the request log on the way out.
    lines = Cli(settings.database_url).ok("requests", "acme")
    assert len(lines) == 1 and "  201  POST /scim/v2/Users  " in lines[0]
