"""Fixtures of the operations tests: a Redis server for the shared rate-limit storage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import databases
from tests.events.support import Receiver


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The local Redis; started (no persistence) when it is not running. Never skipped."""
    return databases.ensure_redis()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback webhook receiver (answers 204 unless told otherwise)."""
    started = Receiver().start()
    yield started
    started.stop()
