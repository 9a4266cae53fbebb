"""Start and stop the two servers under test, on free loopback ports.

scimhub runs through its own CLI (``scimhub serve``) on a fresh SQLite file, with a tenant
and token made by ``scimhub tenant create`` / ``scimhub token issue``; the floor runs as
``python -m bench.floor``. Both are single uvicorn processes.
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


def make_tenant(env: dict[str, str]) -> str:
    """Create the benchmark tenant and return a bearer token (the last stdout line)."""
    cli(env, "tenant", "create", TENANT)
    return cli(env, "token", "issue", TENANT).strip().splitlines()[-1].strip()


@dataclass
class Server:
    name: str
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


def _spawn(name: str, argv: list[str], env: dict[str, str], port: int, workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
    return Server(name, proc, port, log)


def start_scimhub(env: dict[str, str], port: int, workdir: Path) -> Server:
    argv = [scimhub_executable(), "serve", "--host", HOST, "--port", str(port)]
    return _spawn("scimhub", argv, env, port, workdir)


def start_floor(port: int, workdir: Path) -> Server:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    argv = [sys.executable, "-m", "bench.floor", "--host", HOST, "--port", str(port)]
    return _spawn("floor", argv, env, port, workdir)


async def wait_ready(server: Server, token: str) -> None:
    """Until the server answers an authenticated GET (any status), or it dies, or time runs out."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log_tail()}")
        conn = Connection(HOST, server.port, token)
        try:
            await conn.request("GET", "/Users?count=0")
            return
        except (OSError, asyncio.IncompleteReadError):
            await asyncio.sleep(0.1)
        finally:
            await conn.close()
    raise RuntimeError(f"{server.name} did not answer within {STARTUP_SECONDS:.0f} s:\n{server.log_tail()}")
