"""Start and stop the two servers under test, on free loopback ports.

scimhub runs through its own CLI (``scimhub serve``) on a fresh database (a SQLite file or a
PostgreSQL database of its own, migrated by ``scimhub db upgrade``), with a tenant and token
made by ``scimhub tenant create`` / ``scimhub token issue``; ``--processes N`` starts N
``scimhub serve`` processes on the same database, each on its own port. The floor runs as
``python -m bench.floor`` (and the previous floor, ``python -m bench.floor_built``), one uvicorn
process each.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.client import Connection
from bench.procstat import Memory
from bench.procstat import memory
from bench.procstat import tree_cpu_seconds

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
TENANT = "bench"
STARTUP_SECONDS = 120.0


def scimhub_executable() -> str:
    beside = Path(sys.executable).parent / "scimhub"
    found = str(beside) if beside.exists() else shutil.which("scimhub")
    if not found:
        raise RuntimeError("the scimhub command is not installed (pip install -e . in this venv)")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def scimhub_env(database_url: str) -> dict[str, str]:
    """The server's settings for the benchmark (see the README's Benchmark section)."""
    env = dict(os.environ)
    env.update(
        SCIMHUB_DATABASE_URL=database_url,
        SCIMHUB_RATE_LIMIT="",  # "" disables rate limiting (scimhub.settings)
        SCIMHUB_LOG_LEVEL="WARNING",  # no per-request access log lines
    )
    return env


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [scimhub_executable(), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scimhub {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-800:]}")
    return done.stdout


def upgrade(env: dict[str, str]) -> None:
    """Migrate the database (``scimhub serve`` does not migrate PostgreSQL itself)."""
    cli(env, "db", "upgrade")


def make_tenant(env: dict[str, str]) -> str:
    """Create the benchmark tenant and return a bearer token (the last stdout line)."""
    cli(env, "tenant", "create", TENANT)
    return cli(env, "token", "issue", TENANT).strip().splitlines()[-1].strip()


@dataclass
class Process:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=15)

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Server:
    """One server under test: one or more processes answering the same routes on the same data."""

    name: str
    processes: list[Process]

    @property
    def pid(self) -> int:
        return self.processes[0].pid

    @property
    def ports(self) -> list[int]:
        return [p.port for p in self.processes]

    def dead(self) -> Process | None:
        return next((p for p in self.processes if p.proc.poll() is not None), None)

    def cpu_seconds(self) -> float:
        """CPU seconds of every process (and its descendants), summed."""
        return sum(tree_cpu_seconds(p.pid) for p in self.processes)

    async def settled_cpu_seconds(self, quiet: float = 0.05, limit: float = 5.0) -> float:
        """``cpu_seconds()`` once the processes have been (nearly) idle for ``quiet`` seconds, or
        after ``limit``: work a row set off in the background (scimhub's WAL checkpoint thread)
        is then counted in that row, not in whichever row comes next."""
        deadline = time.monotonic() + limit
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            await asyncio.sleep(quiet)
            now = self.cpu_seconds()
            if now - last < quiet * 0.05:  # under 5 % of one core: idle but for ticks
                return now
            last = now
        return last

    def memory(self) -> Memory:
        """The largest VmHWM and VmRSS of any one process (each process holds its own caches)."""
        found = [memory(p.pid) for p in self.processes]
        return Memory(max(m.hwm_kb for m in found), max(m.rss_kb for m in found))

    def peak_kb(self) -> list[int]:
        """VmHWM of each process (0 for one that is gone)."""
        peaks = []
        for p in self.processes:
            try:
                peaks.append(memory(p.pid).hwm_kb)
            except OSError:
                peaks.append(0)
        return peaks

    def stop(self) -> None:
        for p in self.processes:
            if p.proc.poll() is None:
                p.proc.terminate()
        for p in self.processes:
            p.stop()

    def log_tail(self, chars: int = 1500) -> str:
        return "\n".join(f"[{self.name} pid {p.pid} port {p.port}]\n{p.log_tail(chars)}" for p in self.processes)


def _spawn(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Process:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    return Process(proc, port, log)


def start_scimhub(env: dict[str, str], ports: list[int], workdir: Path) -> Server:
    """``scimhub serve`` once per port, all on the database of ``env``."""
    processes = []
    for n, port in enumerate(ports):
        argv = [scimhub_executable(), "serve", "--host", HOST, "--port", str(port)]
        processes.append(_spawn(f"scimhub-{n + 1}" if len(ports) > 1 else "scimhub", argv, env, port, workdir))
    return Server("scimhub", processes)


FLOORS = {"floor": "bench.floor", "floor-built": "bench.floor_built"}  # server name -> module


def start_floor(port: int, workdir: Path, name: str = "floor") -> Server:
    """A floor server: ``floor`` (canned bytes, bench/floor.py) or ``floor-built`` (bench/floor_built.py)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", FLOORS[name], "--host", HOST, "--port", str(port)]
    return Server(name, [_spawn(name, argv, env, port, workdir)])


async def wait_ready(server: Server, token: str) -> None:
    """Until every process answers an authenticated GET (any status), or one dies, or time runs out."""
    await asyncio.gather(*(_wait_ready(server.name, p, token) for p in server.processes))


async def _wait_ready(name: str, process: Process, token: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.proc.returncode}:\n{process.log_tail()}")
        conn = Connection(HOST, process.port, token)
        try:
            await conn.request("GET", "/Users?count=0")
            return
        except (OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.1)
        finally:
            await conn.close()
    raise RuntimeError(f"{name} did not answer within {STARTUP_SECONDS:.0f} s:\n{process.log_tail()}")
