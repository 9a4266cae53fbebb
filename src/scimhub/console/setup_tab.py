"""The console's "Setup" tab of a tenant: its setup links (state, use, tokens generated), a button
that makes one (its URL shown once) and a Revoke button per link.

GET  t/{tenant}/setup                        the tab
POST t/{tenant}/setup/links                  make a link {"days": N}: the page with its URL, once
POST t/{tenant}/setup/links/{id}/revoke      revoke it; 303 back to the tab
"""

from __future__ import annotations

from datetime import UTC
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.session import Session
from scimhub.console.web import ConsoleError
from scimhub.console.web import action
from scimhub.console.web import no_store
from scimhub.console.web import page
from scimhub.console.web import redirect
from scimhub.console.web import render
from scimhub.console.web import runtime
from scimhub.console.web import tenant_of
from scimhub.protocol.setup_links import DEFAULT_DAYS
from scimhub.protocol.setup_links import MAX_DAYS
from scimhub.protocol.setup_links import MAX_TOKENS_PER_LINK
from scimhub.protocol.setup_links import SetupLinks
from scimhub.protocol.setup_links import link_state
from scimhub.store.base import Tenant
from scimhub.store.sql import SqlStore
from scimhub.timestamps import format_instant

DAY_CHOICES = (1, 3, 7, 14, 30, 90)


def _links(request: Request) -> SetupLinks:
    store = runtime(request).service.store
    assert isinstance(store, SqlStore)  # the console exists only on the SQL store
    return SetupLinks(store)


def _server_root(request: Request) -> str:
    """SCIMHUB_PUBLIC_URL, else the server's URL as this request reached it (above /console)."""
    settings = runtime(request).settings
    if settings.public_url:
        return settings.public_root
    root = str(request.scope.get("root_path", "")).removesuffix("/console")  # every prefix above /console
    return f"{request.url.scheme}://{request.url.netloc}{root}"


async def _tab(request: Request, session: Session, tenant: Tenant, created: str | None = None) -> Response:
    now = format_instant(datetime.now(UTC))
    links = [(link, link_state(link, now).value) for link in reversed(await _links(request).list(tenant))]
    response = render(
        request,
        "console/setup.html",
        session,
        tenant=tenant,
        tab="setup",
        links=links,
        created=created,
        days=DAY_CHOICES,
        default_days=DEFAULT_DAYS,
        max_tokens=MAX_TOKENS_PER_LINK,
    )
    return no_store(response) if created else response


async def setup_tab(request: Request, session: Session) -> Response:
    return await _tab(request, session, await tenant_of(request))


async def create_link(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    raw = form.get("days", str(DEFAULT_DAYS))
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise ConsoleError(400, f"A setup link expires in 1 to {MAX_DAYS} days.")
    _link, token = await _links(request).create(tenant, int(raw), now=datetime.now(UTC))
    return await _tab(request, session, tenant, created=f"{_server_root(request)}/setup/{token}")


async def revoke_link(request: Request, session: Session, form: dict[str, str]) -> Response:
    tenant = await tenant_of(request)
    link_id = request.path_params["id"]
    if not await _links(request).links.revoke(tenant.id, link_id, format_instant(datetime.now(UTC))):
        raise ConsoleError(404, f"No active setup link {link_id} in tenant {tenant.name!r}.")
    return redirect(request, f"/t/{tenant.name}/setup", done="link-revoked")


def console_routes(tenant: str) -> list[BaseRoute]:
    return [
        Route(f"{tenant}/setup", page(setup_tab), methods=["GET"]),
        Route(f"{tenant}/setup/links", action(create_link), methods=["POST"]),
        Route(f"{tenant}/setup/links/{{id}}/revoke", action(revoke_link), methods=["POST"]),
    ]
