"""The console as an ASGI app, mounted at ``/console`` by ``scimhub.app.create_app``.

Without ``SCIMHUB_ADMIN_TOKEN`` every console URL answers 404, like the admin API. Every response
carries a strict Content-Security-Policy (no inline script or style: the pages load
``static/console.css`` and ``static/console.js`` only) and is never framed.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp
from starlette.types import Message
from starlette.types import Receive
from starlette.types import Scope
from starlette.types import Send

from scimhub.console import activity
from scimhub.console import auth
from scimhub.console import directory
from scimhub.console import mapping_forms
from scimhub.console import tenant_settings
from scimhub.console import tenants
from scimhub.console import tokens
from scimhub.console import webhooks
from scimhub.console.web import ConsoleError
from scimhub.console.web import ConsoleRuntime
from scimhub.console.web import render
from scimhub.console.web import session_of

CONSOLE_PREFIX = "/console"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds the CSP and its companions to every console response; pages are not cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith(f"{scope.get('root_path', '')}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k not in _REPLACED]
                headers += SECURITY_HEADERS
                if not is_static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_REPLACED = {name for name, _ in SECURITY_HEADERS} | {b"cache-control"}


class Disabled:
    """The console without an admin token: it does not exist."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse("The console is disabled: set SCIMHUB_ADMIN_TOKEN to enable it.", 404)
        await response(scope, receive, send)


async def _console_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleError)
    session = await session_of(request)
    response = render(request, "console/error.html", session, exc.status, message=exc.message)
    response.headers.update(exc.headers or {})
    return response


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = "No such page." if exc.status_code == 404 else str(exc.detail)
    return await _console_error(request, ConsoleError(exc.status_code, message))


def routes() -> list[BaseRoute]:
    tenant = "/t/{tenant}"
    return [
        *auth.routes(),
        *tenants.routes(),
        *directory.routes(tenant),
        *tokens.routes(tenant),
        *activity.routes(tenant),
        *webhooks.routes(tenant),
        *tenant_settings.routes(tenant),
        *mapping_forms.routes(tenant),
        *setup_routes(tenant),
        Mount("/static", app=StaticFiles(packages=[("scimhub.console", "static")]), name="static"),
    ]


def setup_routes(tenant: str) -> list[BaseRoute]:
    """The tenant's "Setup" tab: its setup links (``scimhub.console.setup_tab``)."""
    from scimhub.console import setup_tab

    return setup_tab.console_routes(tenant)


def console_app(runtime: ConsoleRuntime | None) -> ASGIApp:
    """The console; ``runtime`` None (no admin token) gives 404 everywhere."""
    if runtime is None:
        return Disabled()
    app = Starlette(
        routes=routes(),
        exception_handlers={ConsoleError: _console_error, HTTPException: _http_error},
    )
    app.state.console = runtime
    return SecurityHeaders(app)
