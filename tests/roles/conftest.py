"""Fixtures of the roles tests: an admin token (the admin API manages the rules)."""

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
    """``scimhub`` on the test's database (the one ``store`` and ``app`` use)."""
    return Cli(settings.database_url)
