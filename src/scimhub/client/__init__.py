"""A typed client for scimhub's admin API, for the SaaS app that consumes a directory.

``AdminClient`` (blocking) and ``AsyncAdminClient`` (asyncio) onboard tenants and tokens, read
the event feed from a checkpoint the caller stores, and read the normalized directory;
``verify_webhook`` checks a Standard Webhooks delivery and returns its event. Importing this
package loads httpx2 and orjson, never the server (Starlette, SQLAlchemy).
"""

from __future__ import annotations

from scimhub.client.aio import AsyncAdminClient
from scimhub.client.errors import AdminApiError
from scimhub.client.errors import FeedExpired
from scimhub.client.errors import WebhookVerificationError
from scimhub.client.models import Deletion
from scimhub.client.models import Event
from scimhub.client.models import IssuedToken
from scimhub.client.models import Tenant
from scimhub.client.models import Token
from scimhub.client.sync import AdminClient
from scimhub.client.webhooks import verify_webhook

__all__ = [
    "AdminApiError",
    "AdminClient",
    "AsyncAdminClient",
    "Deletion",
    "Event",
    "FeedExpired",
    "IssuedToken",
    "Tenant",
    "Token",
    "WebhookVerificationError",
    "verify_webhook",
]
