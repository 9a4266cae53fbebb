"""A small HTTP/1.1 keep-alive client on asyncio streams, and a bounded request recorder.

Raw streams instead of an HTTP library: the load generator shares two cores with the
server, and an HTTP library costs several times the server's own per-request CPU. It
speaks only what the benchmark needs (Content-Length and chunked bodies, keep-alive) and
only to loopback addresses.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field

REQUEST_TIMEOUT = 120.0  # seconds for one response (GET of a 100k-member group is the slowest)


def require_loopback(host: str) -> None:
    address = ipaddress.ip_address(socket.gethostbyname(host))
    if not address.is_loopback:
        raise ValueError(f"the benchmark only sends traffic to loopback addresses, not {host}")


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    seconds: float


@dataclass(frozen=True, slots=True)
class Req:
    method: str
    path: str  # below the SCIM base, e.g. /Users?count=100
    body: bytes | None = None
    ok: tuple[int, ...] = (200,)
    key: int = 0  # handed back to the reply callback


class Connection:
    """One keep-alive connection to a SCIM base URL (http://host:port/scim/v2)."""

    def __init__(self, host: str, port: int, token: str, prefix: str = "/scim/v2") -> None:
        require_loopback(host)
        self.host, self.port, self.prefix = host, port, prefix
        self._auth = f"Authorization: Bearer {token}\r\n".encode()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
            sock = self._writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self._reader, self._writer

    def _head(self, method: str, path: str, body: bytes | None, token: str | None = None) -> bytes:
        lines = (
            f"{method} {self.prefix}{path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: application/scim+json\r\nUser-Agent: scimhub-bench\r\n"
        )
        if body is not None:
            lines += f"Content-Type: application/scim+json; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
        auth = self._auth if token is None else f"Authorization: Bearer {token}\r\n".encode()
        return lines.encode() + auth + b"\r\n"

    async def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None) -> Reply:
        """``token``: this request's bearer token instead of the connection's (many tenants, one connection)."""
        reader, writer = await self.open()
        started = time.perf_counter()
        writer.write(self._head(method, path, body, token) + (body or b""))
        status, payload, keep = await asyncio.wait_for(_read_response(reader, method), REQUEST_TIMEOUT)
        seconds = time.perf_counter() - started
        if not keep:
            await self.close()
        return Reply(status, payload, seconds)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except (ConnectionError, OSError):
                pass
        self._reader = self._writer = None


class RoundRobin:
    """Several keep-alive connections, one per server process: each request goes to the next one."""

    def __init__(self, conns: list[Connection]) -> None:
        self.conns = conns
        self._next = 0

    async def open(self) -> None:
        await asyncio.gather(*(c.open() for c in self.conns))

    async def request(self, method: str, path: str, body: bytes | None = None) -> Reply:
        conn = self.conns[self._next]
        self._next = (self._next + 1) % len(self.conns)
        return await conn.request(method, path, body)

    async def close(self) -> None:
        for conn in self.conns:
            await conn.close()


Client = Connection | RoundRobin


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    keep = headers.get("connection", "").lower() != "close"
    if method == "HEAD" or status in (204, 304) or status < 200:
        return status, b"", keep
    if "content-length" in headers:
        return status, await reader.readexactly(int(headers["content-length"])), keep
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, await _read_chunked(reader), keep
    return status, await reader.read(), False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return bytes(body)
        body += await reader.readexactly(size)
        await reader.readexactly(2)


Validator = Callable[[Req, Reply], str | None]  # a reason when a reply with an ok status is wrong


@dataclass(frozen=True, slots=True)
class Limits:
    max_requests: int
    max_seconds: float


@dataclass
class Recorder:
    """Latencies and statuses of one measured row; knows when its bounds are reached."""

    limits: Limits
    validate: Validator | None = None
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    unexpected: int = 0
    first_error: str | None = None
    stopped: str | None = None  # why the row ended early: "time" or "requests"
    started: float = field(default_factory=time.perf_counter)
    ended: float | None = None

    def over(self) -> bool:
        if len(self.latencies) >= self.limits.max_requests:
            self.stopped = self.stopped or "requests"
        elif time.perf_counter() - self.started >= self.limits.max_seconds:
            self.stopped = self.stopped or "time"
        return self.stopped is not None

    def record(self, req: Req, reply: Reply) -> None:
        self.latencies.append(reply.seconds)
        self.statuses[reply.status] += 1
        problem = None if reply.status in req.ok else "unexpected status"
        if problem is None and self.validate is not None:
            problem = self.validate(req, reply)
        if problem is not None:
            self.unexpected += 1
            if self.first_error is None:
                self.first_error = f"{req.method} {req.path[:100]} -> {reply.status} ({problem}) {reply.body[:200]!r}"

    def finish(self) -> None:
        if self.ended is None:
            self.ended = time.perf_counter()

    @property
    def wall(self) -> float:
        return (self.ended or time.perf_counter()) - self.started


async def call(conn: Client, rec: Recorder, req: Req) -> Reply:
    reply = await conn.request(req.method, req.path, req.body)
    rec.record(req, reply)
    return reply


async def run_batch(
    connect: Callable[[], Client],
    requests: Iterable[Req],
    rec: Recorder,
    concurrency: int = 1,
    on_reply: Callable[[Req, Reply], None] | None = None,
) -> Recorder:
    """Send independent requests with ``concurrency`` keep-alive connections, within rec's bounds."""
    source: Iterator[Req] = iter(requests)
    conns = [connect() for _ in range(concurrency)]
    await asyncio.gather(*(c.open() for c in conns))
    rec.started = time.perf_counter()

    async def worker(conn: Client) -> None:
        try:
            while not rec.over():
                req = next(source, None)
                if req is None:
                    return
                reply = await call(conn, rec, req)
                if on_reply is not None:
                    on_reply(req, reply)
        finally:
            await conn.close()

    await asyncio.gather(*(worker(c) for c in conns))
    rec.finish()
    return rec
