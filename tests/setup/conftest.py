"""Fixtures of the setup-link tests: an admin token, the CLI on the test database."""

from __future__ import annotations

import pytest

from scimhub.settings import Settings
from tests.cli.support import Cli
from tests.events.support import fast


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return fast(settings)


@pytest.fixture
def cli(settings: Settings) -> Cli:
    return Cli(settings.database_url)
