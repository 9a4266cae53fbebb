"""Fixtures of the directory-sync tests: fast retry settings, an admin token, a webhook receiver."""

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
