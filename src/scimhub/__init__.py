"""scimhub: a multi-tenant SCIM 2.0 provisioning server (RFC 7643, RFC 7644)."""

from __future__ import annotations

import importlib
import typing

if typing.TYPE_CHECKING:
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

# Imported on first use (PEP 562): `scimhub tenant list` imports scimhub.admin.cli, and so this
# package, but must not pay for the app (Starlette, the worker, every store module) it never runs.
_LAZY = {
    "create_app": "scimhub.app",
    "Event": "scimhub.events.model",
    "EventType": "scimhub.events.model",
    "HookRegistry": "scimhub.events.hooks",
    "ScimError": "scimhub.errors",
    "Settings": "scimhub.settings",
}


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'scimhub' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # once: later reads do not come back here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
