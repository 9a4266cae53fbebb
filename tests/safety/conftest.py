"""Fixtures of the safety-rail tests: fast delivery settings, an admin token, a webhook receiver."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scimhub.settings import Settings
from tests.cli.support import Cli
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


@pytest.fixture
def cli(settings: Settings) -> Cli:
    """``scimhub`` on the test's database (the one the ``store`` and ``app`` use)."""
    return Cli(settings.database_url)
