"""Helpers of the setup-link tests: make a link, open its page, read the page's form."""

from __future__ import annotations

import re
from datetime import UTC
from datetime import datetime
from typing import Any

import httpx2

from scimhub.protocol.setup_links import SetupLinks
from scimhub.store.sql import SqlStore

ROOT = "http://testserver"
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
_TOKEN = re.compile(r'id="token"[^>]*value="(scimhub_[^"]+)"')


async def make_link(store: SqlStore, tenant: str = "acme", days: int = 7, now: datetime | None = None) -> str:
    """A new setup link of ``tenant``: its token (the last part of the URL)."""
    found = await store.tenant_by_name(tenant)
    assert found is not None
    _link, token = await SetupLinks(store).create(found, days, now=now or datetime.now(UTC))
    return token


def browser(app: object) -> httpx2.AsyncClient:
    """A client without credentials that keeps cookies, as a browser would."""
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url=ROOT)  # type: ignore[arg-type]


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no Generate token form"
    return found.group(1)


def token_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found is not None, "the page shows no token"
    return found.group(1)


async def generate(client: httpx2.AsyncClient, link: str, csrf: str, **extra: str) -> httpx2.Response:
    return await client.post(f"/setup/{link}/token", data={"csrf": csrf, **extra})


async def tokens_of(store: SqlStore, tenant: str = "acme") -> list[Any]:
    found = await store.tenant_by_name(tenant)
    assert found is not None
    return await store.list_tokens(found.id)
