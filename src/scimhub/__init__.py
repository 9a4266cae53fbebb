"""scimhub: a multi-tenant SCIM 2.0 provisioning server (RFC 7643, RFC 7644)."""

from __future__ import annotations

from scimhub.app import create_app
from scimhub.errors import ScimError
from scimhub.settings import Settings

__version__ = "0.1.0"

__all__ = ["ScimError", "Settings", "__version__", "create_app"]
