"""scimhub benchmark: IdP-shaped load against scimhub and a canned-JSON floor, side by side.

    python -m bench.run                                  # N = 10,000, scenarios a-f, SQLite
    python -m bench.run --sizes 10000,100000 --seed-direct
    python -m bench.run --db postgresql --processes 2    # a fresh PostgreSQL database, two servers on it
    python -m bench.run --smoke                          # N = 200, a few requests: proves the harness

Everything runs on loopback, bounded in requests and time. Results go to
bench/results/<timestamp>.json and .md (git-ignored); the Markdown is also printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import replace
from datetime import UTC
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python bench/run.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import orjson

from bench import postgres
from bench import report
from bench import servers
from bench.client import Connection
from bench.procstat import postgres_snapshot
from bench.scenarios import INTERLEAVED
from bench.scenarios import SCENARIOS
from bench.scenarios import DatabaseProbe
from bench.scenarios import Plan
from bench.scenarios import Row
from bench.scenarios import World
from bench.scenarios import initial_sync
from bench.scenarios import merge
from bench.servers import HOST
from bench.servers import Server

RESULTS = Path(__file__).resolve().parent / "results"
DATABASES = ("sqlite", "postgresql")


@dataclass(frozen=True, slots=True)
class Options:
    sizes: list[int]
    scenarios: str
    dbs: list[str]
    seed_direct: bool
    a_http: int
    processes: int
    postgres_url: str
    base_plan: Plan
    max_minutes: float
    keep: bool
    out: Path
    floors: tuple[str, ...] = ("floor", "floor-built")
    rounds: int = 1


def parse_args(argv: list[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="10000", help="comma-separated user counts N (default 10000)")
    p.add_argument("--scenarios", default="abcdef", help="subset of a,b,c,d,e,f (default all)")
    p.add_argument("--db", default="sqlite", help="sqlite, postgresql or both, comma-separated")
    p.add_argument(
        "--seed-direct",
        action="store_true",
        help="create all but --a-http users through ResourceService before the server starts",
    )
    p.add_argument("--a-http", type=int, default=10_000, help="users POSTed over HTTP with --seed-direct")
    p.add_argument("--a-concurrency", type=int, default=8)
    p.add_argument("--concurrency", type=int, default=1, help="connections of the b, d, e-list and f rows (default 1)")
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="scimhub serve processes on the same database, each on its own port; requests go round-robin",
    )
    p.add_argument(
        "--postgres-url",
        default=postgres.DEFAULT_SERVER,
        help="PostgreSQL server and its maintenance database; each size run creates and drops a database there",
    )
    p.add_argument("--lookups", type=int, default=1000, help="b: existence checks of each kind")
    p.add_argument("--deprovision", type=int, default=1000, help="d: users per IdP style")
    p.add_argument("--singles", type=int, default=100, help="e: one-member adds/removes per group")
    p.add_argument("--updates", type=int, default=1000, help="f: PUTs and DELETEs")
    p.add_argument("--row-seconds", type=float, default=180.0, help="time bound of one measured row")
    p.add_argument("--walk-seconds", type=float, default=300.0, help="time bound of the cursor walk (c)")
    p.add_argument("--index-walk-seconds", type=float, default=300.0, help="time bound of the startIndex walk (c)")
    p.add_argument("--fill-seconds", type=float, default=600.0, help="time bound of the group fill (e)")
    p.add_argument("--max-minutes", type=float, default=90.0, help="skip what would start after this")
    p.add_argument("--smoke", action="store_true", help="N=200 and a few requests per row")
    p.add_argument("--keep", action="store_true", help="keep the temporary databases and server logs")
    p.add_argument(
        "--floors",
        default="floor,floor-built",
        help="floor servers run side by side: floor (canned bytes), floor-built (the previous floor); default both",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=5,
        help=f"rows of scenarios {INTERLEAVED} in this many rounds that alternate the servers (1: each server's "
        "whole row in turn, as before session 9)",
    )
    p.add_argument("--out", type=Path, default=None, help="JSON path (default bench/results/<timestamp>.json)")
    a = p.parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    plan = Plan(
        size=0,
        a_http=0,
        a_concurrency=a.a_concurrency,
        concurrency=a.concurrency,
        lookups=a.lookups,
        deprovision=a.deprovision,
        singles=a.singles,
        list_requests=500,
        big_gets=10,
        updates=a.updates,
        row_seconds=a.row_seconds,
        walk_seconds=a.walk_seconds,
        index_walk_seconds=a.index_walk_seconds,
        fill_seconds=a.fill_seconds,
    )
    sizes = [int(s) for s in a.sizes.replace("_", "").split(",") if s]
    if a.smoke:
        sizes, plan = (
            [200],
            replace(
                plan,
                lookups=50,
                deprovision=20,
                singles=10,
                list_requests=50,
                big_gets=3,
                updates=20,
                row_seconds=30,
                walk_seconds=30,
                index_walk_seconds=30,
                fill_seconds=60,
            ),
        )
    scenarios = "".join(sorted(set(a.scenarios.replace(",", ""))))
    if not scenarios or set(scenarios) - set(SCENARIOS):
        p.error(f"--scenarios must be letters of {''.join(SCENARIOS)}")
    dbs = [d.strip() for d in a.db.split(",") if d.strip()]
    if set(dbs) - set(DATABASES):
        p.error(f"--db must name {' or '.join(DATABASES)}")
    if a.processes < 1 or a.concurrency < 1 or a.rounds < 1:
        p.error("--processes, --concurrency and --rounds must be at least 1")
    floors = tuple(f.strip() for f in a.floors.split(",") if f.strip())
    if not floors or set(floors) - set(servers.FLOORS) or floors[0] != "floor":
        p.error(f"--floors must start with floor and name only {', '.join(servers.FLOORS)}")
    return Options(
        sizes,
        scenarios,
        dbs,
        a.seed_direct,
        a.a_http,
        a.processes,
        a.postgres_url,
        plan,
        a.max_minutes,
        a.keep,
        a.out or RESULTS / f"{stamp}.json",
        floors,
        a.rounds,
    )


# -- one size on one database ---------------------------------------------------------------
def seed_direct(db_url: str, base_url: str, count: int, workdir: Path) -> list[str]:
    out = workdir / "seeded-ids.txt"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(servers.REPO), os.environ.get("PYTHONPATH")])))
    argv = [
        sys.executable,
        "-m",
        "bench.seed",
        "--database-url",
        db_url,
        "--base-url",
        base_url,
        "--count",
        str(count),
        "--ids-out",
        str(out),
    ]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=4 * 3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"seeding failed: {done.stderr[-1500:]}")
    print(f"  {done.stdout.strip()}", flush=True)
    return out.read_text().split()


async def configure_floor(floor: Server, users: int, pool: int) -> None:
    port = floor.ports[0]
    conn = Connection(HOST, port, "-", prefix="")
    try:
        base = f"http://{HOST}:{port}/scim/v2"
        body = orjson.dumps({"users": users, "base": base, "reset_groups": True, "members_pool": pool})
        await conn.request("POST", "/_floor/config", body)
    finally:
        await conn.close()


def fake_ids(count: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(count)]


def free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = servers.free_port()
        if port not in ports:
            ports.append(port)
    return ports


class SizeRunner:
    def __init__(self, opts: Options, size: int, db: str, deadline: float) -> None:
        self.opts, self.db, self.deadline = opts, db, deadline
        a_http = min(size, opts.a_http) if opts.seed_direct else size
        self.plan = replace(opts.base_plan, size=size, a_http=a_http)
        self.run = report.SizeRun(size, db, opts.processes)
        self.workdir = Path(tempfile.mkdtemp(prefix=f"scimhub-bench-{size}-"))
        self.started: list[Server] = []
        self.postgres_db: str | None = None  # the URL of the database this run created

    async def execute(self) -> report.SizeRun:
        try:
            await self._execute()
        finally:
            for server in self.started:
                if server.name not in self.run.peak_kb:
                    self._record_peaks(server)
                server.stop()
            await self._drop_database()
            if not self.opts.keep:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                self.run.notes.append(f"kept {self.workdir}")
        return self.run

    async def _database(self) -> str:
        if self.db == "sqlite":
            return f"sqlite:///{self.workdir / 'bench.db'}"
        self.postgres_db = await postgres.create_database(self.opts.postgres_url, f"scimhub_bench_{self.plan.size}")
        return self.postgres_db

    async def _drop_database(self) -> None:
        if self.postgres_db is None:
            return
        if self.opts.keep:
            self.run.notes.append(f"kept database {postgres.database_name(self.postgres_db)}")
            return
        try:
            await postgres.drop_database(self.opts.postgres_url, self.postgres_db)
        except Exception as exc:  # noqa: BLE001 - the results matter more than the cleanup
            self.run.notes.append(f"could not drop {postgres.database_name(self.postgres_db)}: {exc}")

    def _database_probe(self) -> DatabaseProbe | None:
        """The PostgreSQL server's CPU, when it runs on this machine."""
        url = self.postgres_db
        if url is None or not postgres.is_local(url) or not postgres_snapshot("").ticks:
            return None
        return DatabaseProbe(postgres.database_name(url))

    async def _execute(self) -> None:
        plan = self.plan
        db_url = await self._database()
        env = servers.scimhub_env(db_url)
        servers.upgrade(env)
        token = servers.make_tenant(env)
        ports = free_ports(self.opts.processes + len(self.opts.floors))
        ports, floor_ports = ports[: self.opts.processes], ports[self.opts.processes :]
        seeded = plan.size - plan.a_http
        ids = seed_direct(db_url, f"http://{HOST}:{ports[0]}/scim/v2", seeded, self.workdir) if seeded else []
        self.run.seeded = len(ids)
        scimhub = servers.start_scimhub(env, ports, self.workdir)
        self.started.append(scimhub)
        named = zip(floor_ports, self.opts.floors, strict=True)
        floors = [servers.start_floor(port, self.workdir, name) for port, name in named]
        self.started += floors
        await asyncio.gather(*(servers.wait_ready(s, token) for s in [scimhub, *floors]))
        for floor in floors:
            await configure_floor(floor, seeded, self._member_pool())
        pad = [""] * (plan.size - seeded)
        worlds = [World(floor, token, fake_ids(seeded) + pad) for floor in floors]
        worlds.append(World(scimhub, token, ids + pad, database=self._database_probe()))
        await self._populate(worlds)
        if self.postgres_db is not None:
            await postgres.analyze(self.postgres_db)
            self.run.notes.append("ANALYZE after the users were created (before the rows after a)")
        for letter in self.opts.scenarios.replace("a", ""):
            if not await self._scenario(letter, worlds):
                break
        for world in reversed(worlds):
            self._record_peaks(world.server)

    def _record_peaks(self, server: Server) -> None:
        peaks = server.peak_kb()
        self.run.peak_kb[server.name] = max(peaks, default=0)
        self.run.process_peaks_kb[server.name] = peaks

    def _member_pool(self) -> int:
        """Group members the floor prepares (unmeasured) for scenario e's big-group answers."""
        return self.plan.size if "e" in self.opts.scenarios else 0

    async def _populate(self, worlds: list[World]) -> None:
        """Scenario a when asked for; otherwise the same creates, unmeasured, on scimhub only."""
        if "a" in self.opts.scenarios:
            await self._scenario("a", worlds)
        else:
            await initial_sync(self.plan, worlds[-1])
            for floor in worlds[:-1]:
                await configure_floor(floor.server, self.plan.size, self._member_pool())
                floor.user_ids = fake_ids(self.plan.size)
        self.run.http_created = sum(1 for i in worlds[-1].user_ids[self.run.seeded :] if i)
        missing = self.plan.size - self.run.seeded - self.run.http_created
        if missing:
            raise RuntimeError(f"{missing} of {self.plan.size} users were not created; see the a row")

    async def _scenario(self, letter: str, worlds: list[World]) -> bool:
        if time.monotonic() > self.deadline:
            self.run.notes.append(f"scenario {letter} skipped: --max-minutes reached")
            return False
        print(f"  N={self.plan.size:,} scenario {letter} ...", flush=True)
        rounds = self.opts.rounds if letter in INTERLEAVED else 1
        answered: dict[str, list[list[Row]]] = {world.server.name: [] for world in worlds}
        # In rounds, each server answers its share of a row in turn, so that a machine whose speed
        # drifts within minutes (a shared VM) slows the floor and scimhub alike.
        for turn in range(rounds):
            for world in worlds:
                dead = world.server.dead()
                if dead is not None:
                    raise RuntimeError(f"{world.server.name} (pid {dead.pid}) died:\n{dead.log_tail()}")
                plan = replace(self.plan, part=(turn, rounds))
                answered[world.server.name].append(await SCENARIOS[letter](plan, world))
        for world in worlds:
            shares = answered[world.server.name]
            rows = shares[0] if rounds == 1 else [merge([share[i] for share in shares]) for i in range(len(shares[0]))]
            self.run.rows += rows
            if any(r.unexpected for r in rows) and world.server.name == "scimhub":
                self.run.notes.append(f"scenario {letter}: unexpected replies; server log:\n{world.server.log_tail()}")
            for row in rows:
                db = f"  postgres {report._num(row.db_cpu_us):>7} µs/req" if row.db_cpu_s is not None else ""
                print(
                    f"    {row.server:8} {row.row:16} {row.requests:7,} req  p50 {report._ms(row.p50_ms):>8} ms  "
                    f"cpu {report._num(row.cpu_us):>7} µs/req{db}{report._flags(row)}",
                    flush=True,
                )
        return True


# -- the whole invocation ----------------------------------------------------------------------
async def postgresql_unsupported(server_url: str) -> str | None:
    """Why the benchmark cannot run on PostgreSQL (scimhub refuses the URL, no driver, no server), or None."""
    return await postgres.unavailable(server_url)


def metadata(argv: list[str]) -> dict[str, Any]:
    try:
        revision = subprocess.run(
            ["git", "-C", str(servers.REPO), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except OSError:
        revision = "unknown"
    return {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": shlex.join(["python", "-m", "bench.run", *argv]),
        "revision": revision or "unknown",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "server_env": {"SCIMHUB_RATE_LIMIT": "", "SCIMHUB_LOG_LEVEL": "WARNING"},
        "loadavg_at_start": _loadavg(),
    }


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


async def run_all(opts: Options) -> tuple[list[report.SizeRun], list[str]]:
    deadline = time.monotonic() + opts.max_minutes * 60
    runs: list[report.SizeRun] = []
    skipped: list[str] = []
    for db in opts.dbs:
        if db == "postgresql":
            problem = await postgresql_unsupported(opts.postgres_url)
            if problem:
                skipped.append(f"postgresql: {problem}")
                print(f"skipping postgresql: {problem}", flush=True)
                continue
        for size in opts.sizes:
            if time.monotonic() > deadline:
                skipped.append(f"N={size:,} on {db}: --max-minutes reached")
                continue
            print(f"N={size:,} on {db}, {opts.processes} scimhub process(es)", flush=True)
            runner = SizeRunner(opts, size, db, deadline)
            try:
                runs.append(await runner.execute())
            except Exception as exc:  # noqa: BLE001 - one failed size must not lose the others' results
                runner.run.notes.append(f"FAILED: {type(exc).__name__}: {str(exc)[:1500]}")
                runs.append(runner.run)
                print(f"  FAILED: {exc}", flush=True)
    return runs, skipped


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it comes with uvicorn[standard]): less client CPU per request."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    opts = parse_args(argv)
    meta = metadata(argv)
    meta["rounds"] = opts.rounds
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runs, skipped = runner.run(run_all(opts))
    meta["loadavg_at_end"] = _loadavg()
    found = report.targets(runs)
    document = {
        "meta": meta,
        "runs": [r.to_json() for r in runs],
        "targets": [t.to_json() for t in found],
        "skipped": skipped,
    }
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    text = report.markdown(meta, runs, found, skipped)
    opts.out.with_suffix(".md").write_text(text)
    print(f"\n{text}\nwrote {opts.out} and {opts.out.with_suffix('.md')}")
    failed = any(n.startswith("FAILED") for r in runs for n in r.notes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
