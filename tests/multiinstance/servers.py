"""Real ``scimhub serve`` processes on one database, for the multi-instance tests.

Everything goes through the public surface: the ``scimhub`` command line (``python -m scimhub``)
provisions, the servers are subprocesses on free ports, and the tests talk HTTP to them. Nothing
here imports scimhub, so the harness is the same on SQLite and on PostgreSQL.

The database: ``SCIMHUB_TEST_DATABASE_URL`` (e.g. ``postgresql+asyncpg://postgres@127.0.0.1:5432/test``)
selects PostgreSQL, and :func:`fresh_database` creates a new database ``scimhub_mi_<random>`` on that
server (the URL's own database name is not used) and drops it afterwards; unset, it is a new SQLite file.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tests import databases

TEST_DATABASE_URL = "SCIMHUB_TEST_DATABASE_URL"
ADMIN_TOKEN = "multiinstance-admin-token-0123456789abcdef"
# Started like this when it is down (no persistence), as tests/ops does.

# Every server and CLI call gets these (plus SCIMHUB_DATABASE_URL); tests add or override some.
BASE_ENV = {
    "SCIMHUB_RATE_LIMIT": "",  # tests fire bursts; the rate-limit test sets its own
    "SCIMHUB_ADMIN_TOKEN": ADMIN_TOKEN,
    "SCIMHUB_LOG_LEVEL": "INFO",
    "SCIMHUB_WORKER_POLL_SECONDS": "0.2",  # see the other instance's commits quickly
    "SCIMHUB_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
    "SCIMHUB_WEBHOOK_BACKOFF_MAX_SECONDS": "0.2",
    "SCIMHUB_WEBHOOK_MAX_ATTEMPTS": "1000",
    "SCIMHUB_SHUTDOWN_GRACE_SECONDS": "2",
}
READY_TIMEOUT = 30.0
LOG_TAIL_LINES = 60
LOG_LINE_CHARS = 800


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def scimhub_env(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment without any SCIMHUB_* variable, then BASE_ENV, the URL, ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMHUB_")}
    return {**env, **BASE_ENV, "SCIMHUB_DATABASE_URL": database_url, **extra}


def cli(database_url: str, *args: str) -> list[str]:
    """Run ``scimhub ARGS`` against the database; its stdout lines (fails the test on exit status != 0)."""
    done = subprocess.run(
        [sys.executable, "-m", "scimhub", *args],
        env=scimhub_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"scimhub {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    return done.stdout.splitlines()


def provision(database_url: str, *tenants: str) -> dict[str, str]:
    """Create the tenants and a bearer token for each (in parallel); tenant name -> token."""

    def one(name: str) -> str:
        cli(database_url, "tenant", "create", name)
        return cli(database_url, "token", "issue", name)[-1]  # printed once, on the last line

    with ThreadPoolExecutor(max(1, len(tenants))) as pool:
        return dict(zip(tenants, pool.map(one, tenants), strict=True))


# -- the database ----------------------------------------------------------------------------------
@contextmanager
def fresh_database(directory: Path) -> Iterator[str]:
    """A new, migrated (``scimhub db upgrade``) database; yields its SQLAlchemy URL."""
    server_url = databases.server_url()
    if server_url is None:
        url = f"sqlite:///{directory / f'scimhub-{uuid.uuid4().hex[:8]}.db'}"
        cli(url, "db", "upgrade")
        yield url
        return
    databases.ensure_postgres_running()
    url = databases.create_database(server_url, prefix="scimhub_mi")
    try:
        cli(url, "db", "upgrade")
        yield url
    finally:
        databases.drop_database(url)


# -- servers ---------------------------------------------------------------------------------------
@dataclass
class Server:
    """One ``scimhub serve`` process; stdout and stderr go to ``log_path``."""

    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    stopped_at: float | None = None  # time.time() when it was stopped or killed

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def scim_url(self) -> str:
        return f"{self.base_url}/scim/v2"

    @property
    def admin_url(self) -> str:
        return f"{self.base_url}/admin/v1"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        """The last lines of the log; a JSON line's traceback is cut to its innermost frame and the error."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(_readable(line) for line in text.splitlines()[-lines:])

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Poll GET /readyz until it answers 200 (the database answers and is migrated)."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                response = httpx2.get(f"{self.base_url}/readyz", timeout=2)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text}"
            except httpx2.TransportError as exc:
                last = repr(exc)
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready after {timeout} s ({last}):\n{self.log_tail()}")

    def kill9(self) -> None:
        """SIGKILL: no graceful shutdown, no lease released, nothing flushed."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.stopped_at = time.time()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.stopped_at is None:
            self.stopped_at = time.time()


def _readable(line: str) -> str:
    try:
        entry = json.loads(line)
    except ValueError:
        return line[:LOG_LINE_CHARS]
    if isinstance(entry, dict) and isinstance(entry.get("exc"), str):
        entry["exc"] = " | ".join(part.strip() for part in entry["exc"].strip().splitlines()[-3:])
    return json.dumps(entry)[:LOG_LINE_CHARS]


# Every server started in this session: conftest.py attaches the log tails of those that were
# alive during a failed test to its report.
STARTED: list[Server] = []


@contextmanager
def serving(
    database_url: str, log_dir: Path, env: dict[str, str] | None = None, count: int = 2
) -> Iterator[list[Server]]:
    """Start ``count`` servers on one database (each on a free port, with ``env`` on top of BASE_ENV),
    wait for each one's /readyz, and stop them (SIGTERM) on exit."""
    with ExitStack() as stack:
        servers = [stack.enter_context(_server(database_url, log_dir, env or {})) for _ in range(count)]
        for server in servers:
            server.wait_ready()
        yield servers


@contextmanager
def _server(database_url: str, log_dir: Path, env: dict[str, str]) -> Iterator[Server]:
    port = free_port()
    log_path = log_dir / f"serve-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "scimhub", "serve", "--port", str(port)],
            env=scimhub_env(database_url, **env),
            cwd=log_dir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"scimhub serve :{port} (pid {proc.pid})", port, proc, log_path)
    STARTED.append(server)
    try:
        yield server
    finally:
        server.stop()
