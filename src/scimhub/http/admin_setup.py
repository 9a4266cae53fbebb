"""Admin API routes of setup links (the same operations as ``scimhub tenant setup-link``).

POST   tenants/{tenant}/setup-links {"expiresInDays": 7}  → 201 {…link, "url": …} (the URL only here)
GET    tenants/{tenant}/setup-links                       → {"setupLinks": [link, …]} (no URLs)
DELETE tenants/{tenant}/setup-links/{id}                  → 204; the page then answers 410
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from scimhub.http.admin import AdminError
from scimhub.http.admin import JSONResponse
from scimhub.http.admin import _route
from scimhub.http.admin import admin_runtime
from scimhub.http.admin import json_body
from scimhub.http.admin import path_tenant
from scimhub.protocol.setup_links import DEFAULT_DAYS
from scimhub.protocol.setup_links import MAX_DAYS
from scimhub.protocol.setup_links import MAX_TOKENS_PER_LINK
from scimhub.protocol.setup_links import SetupLinks
from scimhub.protocol.setup_links import link_state
from scimhub.store.setup_links_sql import SetupLink
from scimhub.store.sql import SqlStore
from scimhub.timestamps import format_instant

SETUP_PATH = "/setup/"


def _links(request: Request) -> SetupLinks:
    store = admin_runtime(request).store
    assert isinstance(store, SqlStore)  # the admin API exists only on the SQL store
    return SetupLinks(store)


def _json(link: SetupLink, now: str) -> dict[str, object]:
    return {**link.to_json(), "state": link_state(link, now).value, "maxTokens": MAX_TOKENS_PER_LINK}


def _root(request: Request) -> str:
    """SCIMHUB_PUBLIC_URL, else the server's root as this request reached it (above /admin/v1)."""
    configured = admin_runtime(request).public_url
    if configured:
        return configured.rstrip("/")
    url = str(request.url)
    return url[: url.rindex("/admin/v1")] if "/admin/v1" in url else str(request.base_url).rstrip("/")


async def create_link(request: Request) -> Response:
    tenant = await path_tenant(request)
    days = (await json_body(request)).get("expiresInDays", DEFAULT_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise AdminError(400, f"expiresInDays must be an integer from 1 to {MAX_DAYS}.")
    now = datetime.now(UTC)
    link, token = await _links(request).create(tenant, days, now=now)
    body = {**_json(link, format_instant(now)), "url": f"{_root(request)}{SETUP_PATH}{token}"}
    return JSONResponse(body, 201)


async def list_links(request: Request) -> Response:
    tenant = await path_tenant(request)
    now = format_instant(datetime.now(UTC))
    return JSONResponse({"setupLinks": [_json(link, now) for link in await _links(request).list(tenant)]})


async def revoke_link(request: Request) -> Response:
    tenant = await path_tenant(request)
    link_id = request.path_params["id"]
    if not await _links(request).links.revoke(tenant.id, link_id, format_instant(datetime.now(UTC))):
        raise AdminError(404, f"No active setup link {link_id} in tenant {tenant.name!r}.")
    return Response(status_code=204)


def setup_link_routes(tenant: str) -> list[Route]:
    return [
        _route(f"{tenant}/setup-links", GET=list_links, POST=create_link),
        _route(f"{tenant}/setup-links/{{id}}", DELETE=revoke_link),
    ]
