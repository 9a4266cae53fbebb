"""Helpers for the directory-sync tests: a loopback webhook receiver, the admin client, waiting."""

from __future__ import annotations

import dataclasses
import select
import socket
import socketserver
import threading
import time
from collections.abc import AsyncIterator
from collections.abc import Awaitable
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from dataclasses import field
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from typing import Any

import anyio
import httpx2
import orjson

from scimhub.settings import Settings

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ADMIN_TOKEN = "test-admin-token-0123456789abcdef"
ADMIN = "http://testserver/admin/v1"


def fast(settings: Settings, **changes: Any) -> Settings:
    """Settings with an admin token and a fast retry schedule (tests must stay quick)."""
    values: dict[str, Any] = {
        "admin_token": ADMIN_TOKEN,
        "webhook_backoff_base_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.2,
        "webhook_timeout_seconds": 2.0,
        "worker_poll_seconds": 0.2,
        "webhook_allow_private": True,  # the receivers are on 127.0.0.1
        **changes,
    }
    return dataclasses.replace(settings, **values)


def admin_client(app: object, token: str | None = ADMIN_TOKEN) -> httpx2.AsyncClient:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    transport = httpx2.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx2.AsyncClient(transport=transport, base_url=ADMIN, headers=headers)


def user_body(user_name: str, **attrs: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, **attrs}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


async def create_user(client: httpx2.AsyncClient, user_name: str, **attrs: Any) -> str:
    response = await client.post("/Users", json=user_body(user_name, **attrs))
    assert response.status_code == 201, response.text
    user_id: str = response.json()["id"]
    return user_id


async def create_group(client: httpx2.AsyncClient, name: str, members: list[str] | None = None) -> str:
    body: dict[str, Any] = {"schemas": [GROUP], "displayName": name}
    if members is not None:
        body["members"] = [{"value": m} for m in members]
    response = await client.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    group_id: str = response.json()["id"]
    return group_id


async def patch(client: httpx2.AsyncClient, path: str, *operations: dict[str, Any]) -> httpx2.Response:
    return await client.patch(path, json=patch_body(*operations))


async def feed(app: object, tenant: str = "acme", after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Every event of the tenant after ``after``, through the admin API."""
    async with admin_client(app) as admin:
        response = await admin.get(f"/tenants/{tenant}/events", params={"after": after, "limit": limit})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await anyio.sleep(0.02)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition") -> None:
    """Like wait_until, for a check that has to await (e.g. an admin API call)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await anyio.sleep(0.02)


@asynccontextmanager
async def running(app: Any) -> AsyncIterator[None]:
    """Run the app's lifespan (worker and hook dispatcher), as uvicorn would."""
    async with app.router.lifespan_context(app):
        yield


# -- a loopback webhook receiver ------------------------------------------------------------------
@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass
class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records every POST and answers ``status``
    (or 503 for the first ``fail_first`` requests)."""

    status: int = 204
    fail_first: int = 0
    received: list[Delivery] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def accepted(self) -> list[Delivery]:
        with self._lock:
            return [d for d in self.received if d.headers.get("x-test-status", "").startswith("2")]

    def seqs(self) -> list[int]:
        return [d.event["seq"] for d in self.accepted()]

    def _answer(self) -> int:
        with self._lock:
            if self.fail_first > 0:
                self.fail_first -= 1
                return 503
            return self.status

    def _record(self, delivery: Delivery) -> None:
        with self._lock:
            self.received.append(delivery)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver._answer()
                headers = {k.lower(): v for k, v in self.headers.items()}
                headers["x-test-status"] = str(status)
                receiver._record(Delivery(headers, body, time.monotonic()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


# -- receivers that answer too slowly -------------------------------------------------------------
_SLOW_ANSWER = b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


@dataclass
class SlowReceiver:
    """A hostile receiver on 127.0.0.1: ``trickle`` sends its 204 one byte every ``interval``
    seconds (each read is quick, the answer takes ``len(answer) * interval``); ``silent`` reads
    the request and never answers. Either way it lets go when the sender hangs up, and counts the
    requests it holds at once."""

    mode: str = "trickle"
    interval: float = 0.1
    hold: float = 15.0  # never hold a request longer than this (a test that failed must still end)
    arrived: list[tuple[int, float]] = field(default_factory=list)  # (seq, monotonic time)
    max_in_flight: int = 0
    _in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def seqs(self) -> list[int]:
        with self._lock:
            return [seq for seq, _ in self.arrived]

    def start(self) -> SlowReceiver:
        receiver = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                body = _read_request(self.rfile)
                with receiver._lock:
                    receiver.arrived.append((orjson.loads(body)["seq"], time.monotonic()))
                    receiver._in_flight += 1
                    receiver.max_in_flight = max(receiver.max_in_flight, receiver._in_flight)
                try:
                    receiver._answer(self.request)
                finally:
                    with receiver._lock:
                        receiver._in_flight -= 1

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def _answer(self, sock: socket.socket) -> None:
        deadline = time.monotonic() + self.hold
        answer = _SLOW_ANSWER if self.mode == "trickle" else b""
        sent = 0
        while time.monotonic() < deadline and not self._stop.is_set():
            if _hung_up(sock, self.interval):
                return
            if sent < len(answer):
                try:
                    sock.sendall(answer[sent : sent + 1])
                except OSError:
                    return
                sent += 1
            elif answer:
                return

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def _read_request(rfile: Any) -> bytes:
    length = 0
    while (line := rfile.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body: bytes = rfile.read(length)
    return body


def _hung_up(sock: socket.socket, wait: float) -> bool:
    """Whether the peer closed the connection (readable with nothing to read), waiting up to ``wait``."""
    readable, _, _ = select.select([sock], [], [], wait)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True
