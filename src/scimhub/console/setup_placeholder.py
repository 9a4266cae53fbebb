"""The "Setup" tab until the setup-link feature (``scimhub.console.setup``) provides it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Route

from scimhub.console.session import Session
from scimhub.console.web import page
from scimhub.console.web import render
from scimhub.console.web import tenant_of


async def _setup(request: Request, session: Session) -> Response:
    tenant = await tenant_of(request)
    return render(request, "console/setup_placeholder.html", session, tenant=tenant, tab="setup")


def routes(tenant: str) -> list[BaseRoute]:
    return [Route(f"{tenant}/setup", page(_setup), methods=["GET"])]
