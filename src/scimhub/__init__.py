"""scimhub: a multi-tenant SCIM 2.0 provisioning server (RFC 7643, RFC 7644)."""

from __future__ import annotations

from scimhub.app import create_app
from scimhub.errors import ScimError
from scimhub.events.hooks import HookRegistry
from scimhub.events.model import Event
from scimhub.events.model import EventType
from scimhub.settings import Settings

__version__ = "0.1.0"

# Sorted with key=str.casefold, as httpx sorts its __all__ (pinned by tests/test_public_api.py);
# ruff's RUF022 wants its own isort-style order instead.
__all__ = ["__version__", "create_app", "Event", "EventType", "HookRegistry", "ScimError", "Settings"]  # noqa: RUF022
