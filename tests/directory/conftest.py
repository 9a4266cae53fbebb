"""Fixtures of the directory tests: an admin token (the directory API is part of the admin API)."""

from __future__ import annotations

import pytest

from scimhub.settings import Settings
from tests.events.support import fast


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return fast(settings)
