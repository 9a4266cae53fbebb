"""Fixtures of the command-line tests."""

from __future__ import annotations

import pytest

from scimhub.settings import Settings
from tests.cli.support import Cli


@pytest.fixture
def cli(settings: Settings) -> Cli:
    """``scimhub`` on the test's (migrated) database, the same file the ``store`` and ``app`` use."""
    return Cli(settings.database_url)
