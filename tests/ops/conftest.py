"""Fixtures of the operations tests: a Redis server for the shared rate-limit storage."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.events.support import Receiver
from tests.ops.support import REDIS_URL


def _redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis; started (no persistence) when it is not running. Never skipped."""
    if not _redis_answers():
        server = shutil.which("redis-server")
        assert server is not None, "redis-server is not installed; the shared rate-limit test needs it"
        subprocess.run(
            [
                server,
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ],
            check=True,
            timeout=10,
        )
        deadline = time.monotonic() + 10
        while not _redis_answers():
            assert time.monotonic() < deadline, "redis-server did not start within 10 s"
            time.sleep(0.05)
    return REDIS_URL


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback webhook receiver (answers 204 unless told otherwise)."""
    started = Receiver().start()
    yield started
    started.stop()
