"""GET of a big group over HTTP: time to the first byte, to the last byte, server CPU and memory.

    python -m bench.big_group                                  # 10,000 and 100,000 members, SQLite
    python -m bench.big_group --db postgresql                  # the same on a fresh PostgreSQL database
    python -m bench.big_group --sizes 100000 --gets 10

Seeds the largest size's users directly (``bench.seed``), creates one group per size over HTTP,
fills its memberships with one INSERT … SELECT (a read benchmark: the fill's events are not the
point; scenario e of ``bench.run`` measures membership writes), starts ``scimhub serve``, and
sends GETs, each on a connection of its own and read to its last byte. The server's RSS is read
before the first measured GET and its peak (VmHWM) after the last: a rendering that holds the whole
group in memory shows as growth; a streamed one stays flat. (The peak is reset to the current
RSS before each size's GETs: ``5`` written to /proc/<pid>/clear_refs.)
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import socket
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench import postgres
from bench import servers
from bench.client import Connection
from bench.payloads import entra_group_create
from bench.procstat import memory
from bench.run import seed_direct
from bench.servers import HOST


@dataclass(frozen=True, slots=True)
class Sample:
    first_byte_s: float  # request sent -> first byte of the response (status line)
    total_s: float  # request sent -> last byte of the body
    size: int  # bytes on the wire


@dataclass(frozen=True, slots=True)
class Result:
    db: str
    members: int
    samples: list[Sample]
    cpu_s: float  # server CPU for all the GETs
    rss_before_kb: int  # the server's RSS before the measured GETs
    hwm_after_kb: int  # its peak RSS during them (VmHWM, reset to RSS before the first)

    def line(self) -> str:
        first = [s.first_byte_s * 1000 for s in self.samples]
        total = [s.total_s * 1000 for s in self.samples]
        return (
            f"| {self.db} | {self.members:,} | {statistics.median(first):.1f} ({min(first):.1f}-{max(first):.1f}) "
            f"| {statistics.median(total):.1f} ({min(total):.1f}-{max(total):.1f}) "
            f"| {self.cpu_s / len(self.samples) * 1000:.1f} | {self.samples[0].size / 1e6:.1f} "
            f"| {self.rss_before_kb / 1024:.0f} -> {self.hwm_after_kb / 1024:.0f} |"
        )


HEADER = (
    "| db | members | first byte ms, median (range) | whole response ms, median (range) | server CPU ms a GET "
    "| MB on the wire | server RSS MB before -> peak during |\n|---|--:|--:|--:|--:|--:|--:|"
)


async def timed_get(port: int, token: str, path: str) -> Sample:
    """One GET on a fresh connection, read to EOF (Connection: close), timed on the client."""
    reader, writer = await asyncio.open_connection(HOST, port, limit=1 << 22)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = (
        f"GET /scim/v2{path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    started = time.perf_counter()
    writer.write(head.encode())
    first = await reader.read(1 << 16)
    first_at = time.perf_counter()
    size = len(first)
    while chunk := await reader.read(1 << 20):
        size += len(chunk)
    ended = time.perf_counter()
    writer.close()
    if not first.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"GET {path}: {first[:300]!r}")
    return Sample(first_at - started, ended - started, size)


async def fill(db_url: str, group_id: str, count: int) -> None:
    """The group's first ``count`` users (creation order) as members, in one statement."""
    sql = (
        "INSERT INTO group_members (tenant_id, group_pk, member_pk, member_type) "
        "SELECT u.tenant_id, g.pk, u.pk, 'User' FROM resources g JOIN resources u ON u.tenant_id = g.tenant_id "
        "WHERE g.id = {p1} AND u.resource_type = 'User' "
        "AND u.pk IN (SELECT pk FROM resources WHERE resource_type = 'User' ORDER BY pk LIMIT {p2})"
    )
    if db_url.startswith("sqlite"):
        with sqlite3.connect(db_url.removeprefix("sqlite:///")) as conn:
            conn.execute(sql.format(p1="?", p2="?"), (group_id, count))
        return
    conn = await postgres.connect(postgres.dsn(db_url))
    try:
        await conn.execute(sql.format(p1="$1", p2="$2"), group_id, count)
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def make_group(port: int, token: str, name: str) -> str:
    conn = Connection(HOST, port, token)
    try:
        reply = await conn.request("POST", "/Groups", orjson.dumps(entra_group_create(name, 1)))
    finally:
        await conn.close()
    if reply.status != 201:
        raise RuntimeError(f"POST /Groups: {reply.status} {reply.body[:300]!r}")
    gid: str = orjson.loads(reply.body)["id"]
    return gid


async def run(db: str, sizes: list[int], gets: int, postgres_url: str, keep: Path | None) -> list[Result]:
    """``keep``: a directory for the SQLite database, kept, and reused by the next run with the same
    sizes (seeding 100,000 users takes minutes; alternating old and new code needs many runs)."""
    workdir = keep or Path(tempfile.mkdtemp(prefix="scimhub-big-group-"))
    workdir.mkdir(parents=True, exist_ok=True)
    saved = workdir / f"groups-{'-'.join(map(str, sizes))}.json"
    made_pg: str | None = None
    server: servers.Server | None = None
    try:
        if db == "sqlite":
            db_url = f"sqlite:///{workdir / 'bench.db'}"
        else:
            db_url = made_pg = await postgres.create_database(postgres_url, "scimhub_big_group")
        env = servers.scimhub_env(db_url)
        port = servers.free_port()
        reuse = db == "sqlite" and saved.exists()
        if reuse:
            token, groups = orjson.loads(saved.read_bytes()).values()
            groups = {int(k): v for k, v in groups.items()}
        else:
            servers.upgrade(env)
            token = servers.make_tenant(env)
            seed_direct(db_url, f"http://{HOST}:{port}/scim/v2", max(sizes), workdir)
        server = servers.start_scimhub(env, [port], workdir)
        await servers.wait_ready(server, token)
        if not reuse:
            groups = {}
            for size in sizes:
                groups[size] = await make_group(port, token, f"big {size}")
                await fill(db_url, groups[size], size)
            saved.write_bytes(orjson.dumps({"token": token, "groups": {str(k): v for k, v in groups.items()}}))
        results = []
        for size in sizes:
            path = f"/Groups/{groups[size]}"
            await timed_get(port, token, path)  # warm: statements compiled, pages cached
            rss_before = memory(server.pid).rss_kb
            Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS (proc(5))
            cpu_before = server.cpu_seconds()
            samples = [await timed_get(port, token, path) for _ in range(gets)]
            cpu = server.cpu_seconds() - cpu_before
            results.append(Result(db, size, samples, cpu, rss_before, memory(server.pid).hwm_kb))
            print(results[-1].line(), flush=True)
        return results
    finally:
        if server is not None:
            server.stop()
        if made_pg is not None:
            await postgres.drop_database(postgres_url, made_pg)
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.big_group", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="member counts, comma-separated")
    parser.add_argument("--db", default="sqlite", choices=("sqlite", "postgresql"))
    parser.add_argument("--gets", type=int, default=5, help="GETs of each group (after one unmeasured)")
    parser.add_argument("--postgres-url", default=postgres.DEFAULT_SERVER)
    parser.add_argument("--keep", type=Path, default=None, help="SQLite: keep the database in this directory, reuse it")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.replace("_", "").split(",") if s)
    print(HEADER, flush=True)
    asyncio.run(run(args.db, sizes, args.gets, args.postgres_url, args.keep))


if __name__ == "__main__":
    main()
