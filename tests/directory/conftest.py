"""Fixtures of the directory tests: an admin token (the directory API is part of the admin API)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scimhub.settings import Settings
from tests.events.support import Receiver
from tests.events.support import fast


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return fast(settings)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()
