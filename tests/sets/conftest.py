"""Fixtures of the SET tests: fast retries, an admin token, a short long-poll, a push receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scimhub.settings import Settings
from tests.events.support import Receiver
from tests.events.support import fast


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return fast(settings, sets_poll_wait_seconds=3.0, base_url="https://scim.example.com/scim/v2")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(status=202).start()
    yield started
    started.stop()
