"""Setup links: a signed, expiring, revocable URL that walks one tenant's IdP admin through
connecting their identity provider (the page is ``scimhub.console.setup``).

The URL carries only the link's own secret: 32 random bytes (``secrets.token_urlsafe``). The
database keeps its HMAC-SHA256 under a server key kept in the database (``server_secrets``), so
neither a leaked row nor a guessed string opens a page. The page has no session: its one form
(Generate token) carries a CSRF token, the HMAC of the link id and a nonce that only the page's
own cookie holds. Each link may generate at most ``MAX_TOKENS_PER_LINK`` SCIM tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from typing import Any

from scimhub.errors import NotFound
from scimhub.protocol import tenants as tenant_ops
from scimhub.safety.idp import recognise
from scimhub.store.base import Tenant
from scimhub.timestamps import format_instant

if TYPE_CHECKING:  # the store (SQLAlchemy) loads when a SetupLinks is made: `scimhub --help` stays light
    from scimhub.store.request_log_sql import RequestLogStore
    from scimhub.store.setup_links_sql import SetupLink
    from scimhub.store.sql import SqlStore

DEFAULT_DAYS = 7
MAX_DAYS = 90
MAX_TOKENS_PER_LINK = 3  # SCIM tokens one link may generate (each shown once)
FAILURES_SHOWN = 5  # failed requests the page lists, newest first
_KEY = "setup-links"  # server_secrets row of the HMAC key
_TOKEN_CHARS = 43  # secrets.token_urlsafe(32)


class LinkState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def link_state(link: SetupLink, now: str) -> LinkState:
    if link.revoked_at is not None:
        return LinkState.REVOKED
    return LinkState.ACTIVE if now < link.expires_at else LinkState.EXPIRED


# -- signing (pure) --------------------------------------------------------------------------
def mint_link_token() -> str:
    return secrets.token_urlsafe(32)


def looks_like_link_token(value: str) -> bool:
    """Cheap shape check before any database read (43 URL-safe base64 characters)."""
    return len(value) == _TOKEN_CHARS and all(c.isascii() and (c.isalnum() or c in "-_") for c in value)


def link_digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def csrf_token(key: bytes, link_id: str, nonce: str) -> str:
    return hmac.new(key, f"csrf\x00{link_id}\x00{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, link_id: str, nonce: str | None, presented: str | None) -> bool:
    if not nonce or not presented:
        return False
    return hmac.compare_digest(csrf_token(key, link_id, nonce), presented)


def new_nonce() -> str:
    return secrets.token_urlsafe(16)


# -- the page's connection check (pure) ------------------------------------------------------
_SCIM_TYPE_HINTS = {
    "invalidValue": "A value your identity provider sent was refused: check the attribute mappings "
    "(userName must be set and every mapped value must have the right type).",
    "invalidSyntax": "The request body was not valid SCIM: check the attribute mappings and that the "
    "app uses SCIM 2.0.",
    "uniqueness": "A user or group with the same userName or displayName already exists: check which "
    "attribute is mapped to userName (it must be unique) or remove the duplicate.",
    "mutability": "The identity provider tried to change a read-only attribute: remove it from the attribute mappings.",
    "invalidFilter": "The identity provider's lookup filter was refused: match users on userName (or externalId).",
    "invalidPath": "A PATCH named an attribute path that does not exist: check the attribute mappings.",
    "noTarget": "A PATCH addressed a value that does not exist: check the attribute mappings.",
    "tooMany": "The query was too expensive: match users on userName (or externalId).",
}
_STATUS_HINTS = {
    401: "The token was refused: paste the token again (it starts with scimhub_), or generate a new one.",
    403: "The token may not do this: generate a new token.",
    404: "The URL or the resource was not found: the base URL must end in /scim/v2, with nothing after it.",
    405: "This URL does not accept that method: the base URL must end in /scim/v2.",
    409: "A conflict with what is stored already (usually a duplicate userName or displayName).",
    413: "The request was too large: push groups in smaller batches.",
    415: "The request was not JSON: the app must send application/scim+json.",
    429: "Too many requests at once: the identity provider retries by itself.",
}


def hint_for(status: int, error: str | None) -> str:
    """A plain-language hint for a failed SCIM request (its status and ``scimType: detail``)."""
    scim_type = error.partition(":")[0].strip() if error and ":" in error else None
    if scim_type in _SCIM_TYPE_HINTS:
        return _SCIM_TYPE_HINTS[scim_type]
    if status in _STATUS_HINTS:
        return _STATUS_HINTS[status]
    if status >= 500:
        return "The server failed: try again in a minute, and tell your contact if it persists."
    return "The request was refused: see the message."


@dataclass(frozen=True, slots=True)
class Opened:
    """A link found by its token: its tenant and state."""

    link: SetupLink
    tenant: Tenant
    state: LinkState


class SetupLinks:
    """Create, find, list and revoke setup links; issue tokens through them; the page's status."""

    def __init__(self, store: SqlStore) -> None:
        from scimhub.store.setup_links_sql import SetupLinkStore

        self.store = store
        self.links = SetupLinkStore(store.db)
        self._key: bytes | None = None

    async def key(self) -> bytes:
        if self._key is None:
            self._key = await self.store.server_secret(_KEY)
        return self._key

    async def create(self, tenant: Tenant, days: int = DEFAULT_DAYS, *, now: datetime) -> tuple[SetupLink, str]:
        """A new link for ``tenant`` valid ``days`` days: the record and the token (shown once)."""
        from scimhub.store.setup_links_sql import SetupLink

        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"A setup link expires in 1 to {MAX_DAYS} days, not {days}.")
        token = mint_link_token()
        created = format_instant(now)
        link = SetupLink(
            str(uuid.uuid4()), tenant.id, created, format_instant(now + timedelta(days=days)), None, None, 0
        )
        await self.links.add(link, link_digest(await self.key(), token))
        return link, token

    async def open(self, token: str, now: str) -> Opened | None:
        """The link of ``token`` (any state), or None for an unknown or malformed one."""
        if not looks_like_link_token(token):
            return None
        found = await self.links.by_digest(link_digest(await self.key(), token))
        if found is None:
            return None
        link, tenant = found
        return Opened(link, tenant, link_state(link, now))

    async def list(self, tenant: Tenant) -> list[SetupLink]:
        return await self.links.list(tenant.id)

    async def revoke(self, tenant: Tenant, link_id: str, now: str) -> None:
        if not await self.links.revoke(tenant.id, link_id, now):
            raise NotFound(f"No active setup link {link_id} in tenant {tenant.name!r}.")

    async def issue_token(self, opened: Opened, pepper: str | None, now: str) -> str | None:
        """A new SCIM token through the link (as ``scimhub token issue``), or None once the link
        has issued MAX_TOKENS_PER_LINK or stopped being active."""
        if not await self.links.claim_token(opened.link.id, now, MAX_TOKENS_PER_LINK):
            return None
        _record, secret = await tenant_ops.issue_token(self.store, opened.tenant, pepper)
        return secret

    async def status(self, opened: Opened, requests: RequestLogStore | None) -> dict[str, Any]:
        """The connection check: traffic since the link was made, counts, recent failures."""
        since = opened.link.created_at
        traffic = await self.links.traffic(opened.tenant.id)
        connected = traffic is not None and traffic.last_request_at >= since
        counts = await self.links.counts(opened.tenant.id)
        failures: list[dict[str, Any]] = []
        if requests is not None:
            for entry in await requests.recent(opened.tenant.id, FAILURES_SHOWN, failed_only=True):
                if entry["at"] >= since:
                    failures.append(_failure(entry))
        agent = traffic.user_agent if connected and traffic is not None else None
        return {
            "connected": connected,
            "lastRequest": traffic.last_request_at if connected and traffic is not None else None,
            "idp": recognise(agent),
            "userAgent": agent,
            "users": counts.get("User", 0),
            "groups": counts.get("Group", 0),
            "failures": failures,
        }


def _failure(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "at": entry["at"],
        "method": entry["method"],
        "path": entry["path"],
        "status": entry["status"],
        "error": entry["error"],
        "hint": hint_for(entry["status"], entry["error"]),
    }
